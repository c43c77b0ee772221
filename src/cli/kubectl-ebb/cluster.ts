// The cluster as `kubectl ebb` reaches it: the user's kubeconfig (as kubectl finds it), API
// clients, and the API server's refusals turned into errors that say what is missing and what to
// do. Also the reads every command shares: the policy and an opted-in workload's resolution.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { ObjectInfo } from '../../core/mutation.ts';
import { DEFAULT_POLICY, parsePolicy, type Policy } from '../../core/policy.ts';
import type { ConfigError } from '../../core/setting-schema.ts';
import { statusCode, statusMessage } from '../../kube/errors.ts';
import type { CommonOptions } from './args.ts';

export const POLICY_CONFIGMAP = 'ebb-policy';
export const POLICY_KEY = 'policy.yaml';

/**
 * An error the user can act on: printed as is, exit code 1. `refused`: the API server said no to
 * one read (a 403); `unreachable`: it cannot be talked to at all (down, wrong kubeconfig, a 401),
 * so no other read can succeed either.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly kind: 'refused' | 'unreachable' | 'other' = 'other',
  ) {
    super(message);
  }
}

export interface Cluster {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  /** The kubeconfig context's namespace, else `default` (as kubectl). */
  defaultNamespace: string;
  ebbNamespace: string;
}

export function connect(options: CommonOptions): Cluster {
  const kubeConfig = new KubeConfig();
  // With no kubeconfig at all, client-node (unlike kubectl) would quietly try http://localhost:8080.
  const defaultFile = join(homedir(), '.kube', 'config');
  if (options.kubeconfig === undefined && !process.env.KUBECONFIG && !existsSync(defaultFile) && !process.env.KUBERNETES_SERVICE_HOST) {
    throw new CliError(`no kubeconfig: set KUBECONFIG, pass --kubeconfig, or write ${defaultFile}`, 'unreachable');
  }
  try {
    if (options.kubeconfig !== undefined) kubeConfig.loadFromFile(options.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new CliError(
      `cannot read the kubeconfig ${options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (options.context !== undefined) {
    if (!kubeConfig.getContextObject(options.context)) {
      throw new CliError(
        `no context ${JSON.stringify(options.context)} in the kubeconfig: it has ${
          kubeConfig
            .getContexts()
            .map((context) => context.name)
            .join(', ') || 'none'
        }`,
      );
    }
    kubeConfig.setCurrentContext(options.context);
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new CliError('the kubeconfig names no cluster: set KUBECONFIG, or pass --kubeconfig and --context');
  }
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    defaultNamespace: context?.namespace ?? 'default',
    ebbNamespace: options.ebbNamespace,
  };
}

/**
 * The API server's refusal (or silence) as a CliError: `what` names what was being read
 * (`Deployments in all namespaces`), so a 403 says which permission is missing.
 */
export function apiError(cluster: Cluster, error: unknown, what: string): CliError {
  const code = statusCode(error);
  const said = statusMessage(error);
  if (code === 403) {
    return new CliError(`no access: reading ${what} was refused (${said}).\nAsk for read access to it, or use another --context.`, 'refused');
  }
  if (code === 401)
    return new CliError(
      `not authenticated: the API server at ${cluster.kubeConfig.getCurrentCluster()?.server} refused your credentials (${said}); log in again or check --context`,
      'unreachable',
    );
  if (code === undefined) {
    return new CliError(
      `cannot reach the API server at ${cluster.kubeConfig.getCurrentCluster()?.server} while reading ${what}: ${said}\nCheck KUBECONFIG, --kubeconfig and --context.`,
      'unreachable',
    );
  }
  return new CliError(`reading ${what} failed: ${said}`);
}

/** Runs a read, turning a refusal into an apiError. */
export async function read<T>(cluster: Cluster, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw apiError(cluster, error, what);
  }
}

/** The same, with a 404 as undefined. */
export async function readOptional<T>(cluster: Cluster, what: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw apiError(cluster, error, what);
  }
}

/** ebb is installed when its namespace exists; every command but check needs it. */
export async function requireEbb(cluster: Cluster): Promise<void> {
  const namespace = await readOptional(cluster, `Namespace ${cluster.ebbNamespace}`, () => cluster.core.readNamespace({ name: cluster.ebbNamespace }));
  if (!namespace) {
    throw new CliError(
      `ebb is not installed in this cluster: there is no namespace ${cluster.ebbNamespace}.\n` +
        'Install it with kubectl apply -k manifests (see the README), or pass --ebb-namespace if it runs elsewhere.',
    );
  }
}

export interface PolicyRead {
  policy: Policy;
  /** Where it came from, for explanations. */
  source: string;
  /** Problems with the ConfigMap: ebb then keeps its last valid policy, which the CLI cannot see. */
  errors: ConfigError[];
}

export async function readPolicy(cluster: Cluster): Promise<PolicyRead> {
  const where = `${cluster.ebbNamespace}/${POLICY_CONFIGMAP}`;
  const configMap = await readOptional(cluster, `ConfigMap ${where}`, () =>
    cluster.core.readNamespacedConfigMap({ name: POLICY_CONFIGMAP, namespace: cluster.ebbNamespace }),
  );
  const text = configMap?.data?.[POLICY_KEY];
  if (text === undefined || text.trim() === '') return { policy: DEFAULT_POLICY, source: `no ConfigMap ${where}: the defaults`, errors: [] };
  const parsed = parsePolicy(text);
  if (!parsed.ok)
    return {
      policy: DEFAULT_POLICY,
      source: `ConfigMap ${where} is invalid (ebb keeps its last valid policy; shown with the defaults)`,
      errors: parsed.errors,
    };
  return { policy: parsed.policy, source: `ConfigMap ${where}`, errors: [] };
}

export const objectInfo = (namespace: V1Namespace): ObjectInfo => ({
  name: namespace.metadata?.name ?? '',
  ...(namespace.metadata?.labels ? { labels: namespace.metadata.labels } : {}),
  ...(namespace.metadata?.annotations ? { annotations: namespace.metadata.annotations } : {}),
});
