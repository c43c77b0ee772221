// Child processes for the data-path tests: the real interceptor and agent programs, started with
// `node --import tsx`, each one found ready by its "listening" log line. Every child is tracked
// and killed by killAll() (call it from an after hook: it runs on failure too).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';

const children = new Set<ChildProcess>();

export interface Started<T> {
  child: ChildProcess;
  /** The parsed "listening" log line. */
  ready: T;
  /** Everything the child printed, for failure messages. */
  output: string[];
}

export async function startProgram<T>(entry: string, env: Record<string, string>, listeningMsg: string, timeoutMs = 15_000): Promise<Started<T>> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}:\n${output.join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      try {
        const entryLine = JSON.parse(line) as { msg?: string };
        if (entryLine.msg === listeningMsg) {
          clearTimeout(timer);
          resolve(entryLine as T);
        }
      } catch {
        // not a JSON log line
      }
    });
  });
  return { child, ready, output };
}

export interface InterceptorReady {
  listen: string;
  admin: number;
}

export function startInterceptor(appPort: number, extraEnv: Record<string, string> = {}): Promise<Started<InterceptorReady>> {
  return startProgram<InterceptorReady>(
    'agent/interceptor/main.ts',
    { EBB_LISTEN_HOST: '127.0.0.1', EBB_LISTEN_PORT: '0', EBB_ADMIN_PORT: '0', EBB_APP_PORT: String(appPort), EBB_WORKLOAD: 'shop/app', ...extraEnv },
    'interceptor listening',
  );
}

export interface AgentReady {
  activity: number;
  activator: number;
}

export const CONTROLLER_TOKEN = 'controller-token';

const AGENT_LISTEN = { EBB_LISTEN_HOST: '127.0.0.1', EBB_AGENT_PORT: '0', EBB_ACTIVATOR_PORT: '0' };

/** The agent with every cluster dependency replaced by a static setting (see agent/node/config.ts). */
export function startAgent(env: Record<string, string>): Promise<Started<AgentReady>> {
  return startProgram<AgentReady>(
    'agent/main.ts',
    { ...AGENT_LISTEN, EBB_STATIC_TARGETS: '', EBB_STATIC_BACKENDS: '', EBB_STATIC_TOKENS: `${CONTROLLER_TOKEN}=system:serviceaccount:ebb-system:ebb-controller`, ...env },
    'agent listening',
  );
}

/** The agent as a DaemonSet pod runs it, against a real API server: pods, slices and TokenReview. */
export function startClusterAgent(kubeconfigPath: string, nodeName: string, env: Record<string, string> = {}): Promise<Started<AgentReady>> {
  return startProgram<AgentReady>('agent/main.ts', { ...AGENT_LISTEN, KUBECONFIG: kubeconfigPath, NODE_NAME: nodeName, ...env }, 'agent listening');
}

export async function killAll(): Promise<void> {
  await Promise.all(
    [...children].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    }),
  );
}

/** A port that was free a moment ago (for a server the test starts later). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A real app: answers every request after `delayMs`, echoing its X-Request-Id. */
export async function startApp(port: number, delayMs: number, onRequest: (req: http.IncomingMessage) => void = () => undefined, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    onRequest(req);
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(`ok ${String(req.headers['x-request-id'] ?? '')}`);
      }, delayMs),
    );
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

export async function closeServer(server: http.Server | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(port: number, path: string, headers: Record<string, string> = {}, agent: http.Agent | false = false, signal?: AbortSignal, host = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers, agent, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
