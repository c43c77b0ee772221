// The command line of `kubectl ebb`, parsed without I/O. Flags as kubectl plugins take them:
// --kubeconfig, --context and -n/--namespace as kubectl has them, -o for the output form.
import { parseArgs } from 'node:util';
import { DEFAULT_EBB_NAMESPACE } from '../../core/opt-in.ts';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface CommonOptions {
  kubeconfig?: string;
  context?: string;
  /** -n; undefined: all namespaces for status, the context's namespace for explain. */
  namespace?: string;
  ebbNamespace: string;
  output: OutputFormat;
}

export type Command =
  | { name: 'status'; options: CommonOptions }
  | { name: 'explain'; deployment: string; options: CommonOptions }
  | { name: 'check'; options: CommonOptions }
  | { name: 'help' };

export const USAGE = `kubectl ebb: what ebb does with your workloads, and why

Usage:
  kubectl ebb status [-n NAMESPACE]             every opted-in workload: replicas, load, reason, requests against the recommendation, and what ebb saved
  kubectl ebb explain deploy/NAME [-n NAMESPACE] every setting with its value and where it came from, invalid values, recent decisions, what is pending
  kubectl ebb check                              is ebb installed and working? each line ✔ or ✘ with the fix; exits 1 on any ✘

Flags:
  -o, --output table|json|yaml   output form (default table)
  -n, --namespace NAMESPACE      the workloads' namespace (status: all namespaces when not given)
      --ebb-namespace NAMESPACE  where ebb runs (default ${DEFAULT_EBB_NAMESPACE})
      --kubeconfig PATH          the kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME             the kubeconfig context to use (default: its current context)
  -h, --help                     this text
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

const FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml'];

export function parseCommandLine(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        output: { type: 'string', short: 'o' },
        namespace: { type: 'string', short: 'n' },
        'ebb-namespace': { type: 'string' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.help || name === undefined || name === 'help') return { name: 'help' };
  const output = values.output ?? 'table';
  if (!FORMATS.includes(output as OutputFormat)) throw new UsageError(`-o ${output} is not accepted: expected ${FORMATS.join(' | ')}`);
  const options: CommonOptions = {
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    ebbNamespace: values['ebb-namespace'] ?? DEFAULT_EBB_NAMESPACE,
    output: output as OutputFormat,
  };
  switch (name) {
    case 'status':
    case 'check':
      if (rest.length > 0) throw new UsageError(`${name} takes no arguments, got ${rest.join(' ')}`);
      return { name, options };
    case 'explain':
      return { name, deployment: deploymentName(rest), options };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}: expected status, explain or check`);
  }
}

/** `deploy/web`, `deployment/web`, `deployments.apps/web`, or `deploy web`, as kubectl takes them. */
function deploymentName(args: readonly string[]): string {
  const [first, second, ...extra] = args;
  const kinds = ['deploy', 'deployment', 'deployments', 'deployment.apps', 'deployments.apps'];
  const [kind, name] = first?.includes('/') ? first.split('/', 2) : [first, second];
  const given = first?.includes('/') ? [second, ...extra] : extra;
  if (first === undefined || !kinds.includes(kind ?? '') || !name) {
    throw new UsageError('explain takes a Deployment: kubectl ebb explain deploy/NAME [-n NAMESPACE]');
  }
  if (given.some((arg) => arg !== undefined)) throw new UsageError(`explain takes one Deployment, got also ${given.join(' ')}`);
  return name;
}
