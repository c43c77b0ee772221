// The one log of every program: a JSON object per line on stdout,
// `{time, level, component, msg, …fields}`. Tests and the benches read these lines (the
// "listening" line carries the ports a program was given), so the shape is a contract.

export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type Log = (level: LogLevel, msg: string, fields?: LogFields) => void;

export function createLog(component: string, write: (line: string) => void = (line) => void process.stdout.write(line)): Log {
  return (level, msg, fields = {}) => write(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields })}\n`);
}

/** A program's start: its settings, or the reason it cannot start, logged, and exit code 2. */
export function startupOrExit<T>(log: Log, read: () => T): T {
  try {
    return read();
  } catch (error) {
    for (const line of (error instanceof Error ? error.message : String(error)).split('\n')) log('error', line);
    process.exit(2);
  }
}
