// The command-line tools the tests run besides the control plane: promtool (checks the alerting
// rules in manifests/monitoring/) and helm (renders charts/ebb). Built like the control-plane
// binaries: from their Go modules at pinned versions, once, into the ebb cache outside the
// checkout. Each cached name carries its version, so a new pin builds anew instead of running an
// old binary.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkGo, ebbCacheDir, goInstallInto, type Progress } from './assets.ts';

/** Prometheus' Go module is versioned v0.<major><minor>.<patch>: v0.316.0 is Prometheus 3.16.0. */
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
export const HELM_VERSION = 'v3.22.0';

export type Tool = 'promtool' | 'helm';

const TOOLS: Record<Tool, { package: string; version: string }> = {
  promtool: { package: 'github.com/prometheus/prometheus/cmd/promtool', version: PROMETHEUS_MODULE_VERSION },
  helm: { package: 'helm.sh/helm/v3/cmd/helm', version: HELM_VERSION },
};

export function toolsDir(): string {
  return join(ebbCacheDir(), 'tools');
}

function toolPath(tool: Tool): string {
  return join(toolsDir(), `${tool}-${TOOLS[tool].version}`);
}

/** The cached tool's path; throws with the command that builds it when it is missing. */
export function locateTool(tool: Tool): string {
  const path = toolPath(tool);
  if (!existsSync(path)) {
    throw new Error(`${tool} ${TOOLS[tool].version} is missing in ${toolsDir()}: run \`npm run cluster:build\`, which builds it.`);
  }
  return path;
}

/** Builds each tool that is not cached yet; resolves with every tool's path. */
export async function ensureTools(progress: Progress): Promise<Record<Tool, string>> {
  for (const tool of Object.keys(TOOLS) as Tool[]) {
    const path = toolPath(tool);
    if (existsSync(path)) {
      progress(`${tool} cached in ${path}`);
      continue;
    }
    const { package: pkg, version } = TOOLS[tool];
    await checkGo(`to build ${tool} once (the monitoring and Helm chart tests run it)`, 'Install Go ≥ 1.25.');
    mkdirSync(toolsDir(), { recursive: true });
    progress(`building ${tool} (${pkg}@${version}) …`);
    const started = Date.now();
    await goInstallInto(toolsDir(), `${tool}-${version}`, `${pkg}@${version}`, join(toolsDir(), 'src', tool), progress);
    progress(`built ${tool} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return { promtool: locateTool('promtool'), helm: locateTool('helm') };
}
