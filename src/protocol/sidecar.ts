// webhook → interceptor: the one contract between the sidecar the webhook writes into a pod
// (src/core/patch/sidecar.ts) and the interceptor that runs in it (agent/interceptor/config.ts),
// and what the agent and the kubelet find on that pod: the container and port names, the default
// ports, the variables the interceptor reads, and its readiness path. Both sides import it; a name
// changed here changes on both.

/** Pod annotation the webhook writes on every pod it admits; the agent and the controller read it. */
export const INJECTED_ANNOTATION = 'ebb.dev/injected';

export const SIDECAR_NAME = 'ebb-interceptor';
/** The app's port once the sidecar has taken its name over. */
export const APP_PORT_NAME = 'ebb-app';
/** The sidecar's admin port (stats, metrics, /ready); the agent looks it up on each pod. */
export const ADMIN_PORT_NAME = 'ebb-admin';
/** The sidecar's port when the app's port had no name to take over. */
export const LISTEN_PORT_NAME = 'ebb-listen';

/** The policy's defaults (sidecar.listenPort, sidecar.adminPort); the webhook moves them off a port the pod uses. */
export const DEFAULT_LISTEN_PORT = 18080;
export const DEFAULT_ADMIN_PORT = 18090;

/** 200 while the app behind the interceptor accepts connections and the pod is not draining. */
export const INTERCEPTOR_READY_PATH = '/ready';

/** The variables the webhook sets on the sidecar and the interceptor reads. */
export const SIDECAR_ENV = {
  appPort: 'EBB_APP_PORT',
  listenPort: 'EBB_LISTEN_PORT',
  adminPort: 'EBB_ADMIN_PORT',
  workload: 'EBB_WORKLOAD',
} as const;

/**
 * How node runs the interceptor (the sidecar's NODE_OPTIONS): a young generation of 1 MiB
 * semi-spaces. V8's default is sized for a server's throughput, not for a proxy multiplied by every
 * pod; bench:proxy measures the interceptor with exactly these options.
 */
export const INTERCEPTOR_NODE_OPTIONS = '--max-semi-space-size=1';
