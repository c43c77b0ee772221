// The install manifests as kubectl renders them (`kubectl kustomize manifests`), and the kubectl of
// the local control plane's assets that renders and applies them, for the install tests.

import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { locateAssets } from '../../../src/localcluster/assets.ts';

export const MANIFESTS = resolve(import.meta.dirname, '../../../manifests');
/** The namespace the manifests install ebb in. */
export const NAMESPACE = 'ebb-system';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
}

const runFile = promisify(execFile);

/** kubectl with `args`, against the cluster in the `kubeconfig` file when one is given. */
export function kubectl(args: string[], kubeconfig?: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) };
  return runFile(locateAssets().kubectl, args, { env, maxBuffer: 16 * 2 ** 20 });
}

/** The objects `kubectl kustomize dir` renders. */
export async function render(dir = MANIFESTS): Promise<KubeObject[]> {
  const { stdout } = await kubectl(['kustomize', dir]);
  return parseAllDocuments(stdout).map((document) => document.toJS() as KubeObject);
}
