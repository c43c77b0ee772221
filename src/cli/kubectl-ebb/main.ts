#!/usr/bin/env node
// `kubectl ebb`: a kubectl plugin (kubectl runs `kubectl-ebb` from the PATH). It reads the cluster
// with the user's kubeconfig and prints what ebb does and why: status, explain, check.
// Exit codes: 0 done (check: every line ✔), 1 a problem (check: any ✘; or an error, said on
// stderr), 2 a command line that is not understood.
import { parseCommandLine, USAGE, UsageError, type Command } from './args.ts';
import { runCheck } from './check.ts';
import { CliError, connect } from './cluster.ts';
import { runExplain } from './explain.ts';
import { runStatus } from './status.ts';

async function run(command: Exclude<Command, { name: 'help' }>): Promise<number> {
  const cluster = connect(command.options);
  const now = Date.now();
  switch (command.name) {
    case 'status':
      process.stdout.write(await runStatus(cluster, command.options, now));
      return 0;
    case 'explain':
      process.stdout.write(await runExplain(cluster, command.deployment, command.options, now));
      return 0;
    case 'check': {
      const { text, exitCode } = await runCheck(cluster, command.options, now);
      process.stdout.write(text);
      return exitCode;
    }
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    return await run(command);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
