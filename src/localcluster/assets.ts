// Where the control-plane binaries live, and how they are built when they are missing.
//
// They are built from their Go modules at the pinned versions into a cache outside the checkout
// (~/.cache/ebb/k8s-<version>/), so a second run costs nothing. A directory named by
// EBB_K8S_ASSETS that already holds them (e.g. envtest's) is used as it is.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CONTROL_PLANE_BINARIES, ETCD_VERSION, KUBERNETES_STAGING_VERSION, KUBERNETES_VERSION, KWOK_VERSION, type ControlPlaneBinary } from './versions.ts';

export type AssetPaths = Record<ControlPlaneBinary, string>;

/** ~/.cache/ebb (or $XDG_CACHE_HOME/ebb): what ebb builds once, outside the checkout. */
export function ebbCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ebb');
}

export function defaultAssetDir(): string {
  return join(ebbCacheDir(), `k8s-${KUBERNETES_VERSION}-kwok-${KWOK_VERSION}`);
}

export function assetDir(): string {
  return process.env.EBB_K8S_ASSETS ?? defaultAssetDir();
}

export function missingBinaries(dir: string): ControlPlaneBinary[] {
  return CONTROL_PLANE_BINARIES.filter((name) => !existsSync(join(dir, name)));
}

/** The binaries' paths; throws with the command to run when any is missing. */
export function locateAssets(dir = assetDir()): AssetPaths {
  const missing = missingBinaries(dir);
  if (missing.length > 0) {
    throw new Error(
      `control-plane binaries missing in ${dir}: ${missing.join(', ')}. Run \`npm run cluster:build\` ` +
        '(or set EBB_K8S_ASSETS to a directory that holds them).',
    );
  }
  return Object.fromEntries(CONTROL_PLANE_BINARIES.map((name) => [name, join(dir, name)])) as AssetPaths;
}

export type Progress = (line: string) => void;

/**
 * Builds whatever is missing. With EBB_K8S_ASSETS set nothing is built: that directory is the
 * user's, and a missing binary there is an error to report, not something to write into.
 */
export async function ensureAssets(progress: Progress): Promise<AssetPaths> {
  if (process.env.EBB_K8S_ASSETS) return locateAssets(process.env.EBB_K8S_ASSETS);
  const dir = defaultAssetDir();
  const missing = missingBinaries(dir);
  if (missing.length === 0) {
    progress(`control-plane binaries cached in ${dir}`);
    return locateAssets(dir);
  }
  await checkGo();
  mkdirSync(dir, { recursive: true });
  const workDir = join(dir, 'src');
  for (const target of buildTargets()) {
    const wanted = target.binaries.filter((name) => missing.includes(name));
    if (wanted.length === 0) continue;
    progress(`building ${wanted.join(', ')} (${target.describe}) …`);
    const started = Date.now();
    await target.build(join(workDir, target.module), dir, wanted, progress);
    progress(`built ${wanted.join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return locateAssets(dir);
}

interface BuildTarget {
  module: string;
  describe: string;
  binaries: ControlPlaneBinary[];
  build(moduleDir: string, outDir: string, binaries: ControlPlaneBinary[], progress: Progress): Promise<void>;
}

const GO_BUILD_FLAGS = ['-trimpath', '-ldflags', '-s -w'];

function buildTargets(): BuildTarget[] {
  return [
    {
      module: 'kubernetes',
      describe: `k8s.io/kubernetes ${KUBERNETES_VERSION}`,
      binaries: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
      async build(moduleDir, outDir, binaries, progress) {
        await buildKubernetes(moduleDir, outDir, binaries, progress);
      },
    },
    {
      module: 'etcd',
      describe: `go.etcd.io/etcd/server/v3 ${ETCD_VERSION}`,
      binaries: ['etcd'],
      async build(moduleDir, outDir, _binaries, progress) {
        // etcd's own main module uses replace directives, so it cannot be built by version from
        // the proxy; its server module exports the same entry point, which a two-line main calls.
        initModule(moduleDir, 'ebb.local/etcd-build', {
          'main.go': 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
        });
        await go(['get', `go.etcd.io/etcd/server/v3@${ETCD_VERSION}`], moduleDir, progress);
        await go(['mod', 'tidy'], moduleDir, progress);
        await goBuildInto(outDir, 'etcd', { packages: ['.'], moduleDir }, progress);
      },
    },
    {
      module: 'kwok',
      describe: `sigs.k8s.io/kwok ${KWOK_VERSION}`,
      binaries: ['kwok'],
      async build(moduleDir, outDir, _binaries, progress) {
        await goInstallInto(outDir, 'kwok', `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`, moduleDir, progress);
      },
    },
  ];
}

/**
 * k8s.io/kubernetes points its staging modules at ./staging with replace directives, which
 * `go install pkg@version` refuses. A small module of ours requires it and maps every staging
 * module to its published v0.x release instead.
 */
async function buildKubernetes(moduleDir: string, outDir: string, binaries: ControlPlaneBinary[], progress: Progress) {
  initModule(moduleDir, 'ebb.local/kubernetes-build', {});
  const goModPath = (await goOutput(['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], moduleDir)).match(/"GoMod":\s*"([^"]+)"/)?.[1];
  if (!goModPath) throw new Error(`could not download k8s.io/kubernetes ${KUBERNETES_VERSION} from the Go module proxy`);
  const stagingModules = [...readFileSync(goModPath, 'utf8').matchAll(/^\s*(k8s\.io\/[\w.-]+) => \.\/staging\//gm)].map((m) => m[1]);
  const replaces = stagingModules.map((mod) => `replace ${mod} => ${mod} ${KUBERNETES_STAGING_VERSION}`).join('\n');
  writeFileSync(
    join(moduleDir, 'go.mod'),
    `module ebb.local/kubernetes-build\n\ngo 1.25.0\n\nrequire k8s.io/kubernetes ${KUBERNETES_VERSION}\n\n${replaces}\n`,
  );
  const packages = binaries.map((name) => `k8s.io/kubernetes/cmd/${name}`);
  await go(['get', ...packages.map((pkg) => `${pkg}@${KUBERNETES_VERSION}`)], moduleDir, progress);
  for (const [index, name] of binaries.entries()) {
    progress(`  [${index + 1}/${binaries.length}] ${name}`);
    await goBuildInto(outDir, name, { packages: [`k8s.io/kubernetes/cmd/${name}`], moduleDir }, progress);
  }
}

function initModule(moduleDir: string, name: string, files: Record<string, string>) {
  rmSync(moduleDir, { recursive: true, force: true });
  mkdirSync(moduleDir, { recursive: true });
  writeFileSync(join(moduleDir, 'go.mod'), `module ${name}\n\ngo 1.25.0\n`);
  for (const [file, text] of Object.entries(files)) writeFileSync(join(moduleDir, file), text);
}

/** What `go build` builds: these packages, in the main module at `moduleDir`, with these extra variables. */
export interface GoBuild {
  packages: string[];
  moduleDir: string;
  env?: Record<string, string>;
}

/** Builds to a temporary name and renames, so an interrupted build never leaves a half binary. */
export async function goBuildInto(outDir: string, name: string, { packages, moduleDir, env = {} }: GoBuild, progress: Progress) {
  const partial = join(outDir, `.${name}.partial`);
  await go(['build', ...GO_BUILD_FLAGS, '-o', partial, ...packages], moduleDir, progress, env);
  renameSync(partial, join(outDir, name));
}

/**
 * `go install package@version` (a main module without replace directives, built as its authors
 * pinned it) into a scratch GOBIN under `workDir`, then renamed into `outDir` as `name`.
 */
export async function goInstallInto(outDir: string, name: string, packageAtVersion: string, workDir: string, progress: Progress) {
  const bin = join(workDir, 'bin');
  mkdirSync(bin, { recursive: true });
  await go(['install', ...GO_BUILD_FLAGS, packageAtVersion], workDir, progress, { GOBIN: bin });
  const built = packageAtVersion.slice(packageAtVersion.lastIndexOf('/') + 1, packageAtVersion.lastIndexOf('@'));
  renameSync(join(bin, built), join(outDir, name));
}

export async function checkGo(
  needed = 'to build the control-plane binaries once (kube-apiserver, etcd, kwok, …)',
  remedy = 'Install Go ≥ 1.25 (or set EBB_K8S_ASSETS to a directory that already holds the binaries).',
): Promise<void> {
  try {
    await goOutput(['version'], process.cwd());
  } catch {
    throw new Error(`Go is needed ${needed} and was not found on PATH. ${remedy}`);
  }
}

function go(args: string[], cwd: string, progress: Progress, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd, env: { ...process.env, GOFLAGS: '-mod=mod', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const remember = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
      for (const line of chunk.toString().split('\n')) if (/^go: (downloading|added|upgraded)/.test(line)) progress(`  ${line}`);
    };
    child.stdout.on('data', remember);
    child.stderr.on('data', remember);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const unreachable = /dial tcp|no such host|i\/o timeout|connection refused|proxy\.golang|TLS handshake/i.test(tail);
      reject(
        new Error(
          (unreachable
            ? `the Go module proxy could not be reached (GOPROXY=${process.env.GOPROXY ?? 'default'}) while running \`go ${args.join(' ')}\``
            : `\`go ${args.join(' ')}\` failed (exit ${code})`) + ` in ${cwd}:\n${tail}`,
        ),
      );
    });
  });
}

function goOutput(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`go ${args.join(' ')} exited ${code}`))));
  });
}
