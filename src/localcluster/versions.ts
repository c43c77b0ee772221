// The control plane that tests and the sandbox run: pinned so that every machine builds the same
// binaries. Kubernetes 1.35 has in-place pod resize (GA) and native sidecars on by default.

export const KUBERNETES_VERSION = 'v1.35.4';
/** The staging modules (k8s.io/api, k8s.io/client-go, …) are released as v0.<minor>.<patch>. */
export const KUBERNETES_STAGING_VERSION = 'v0.35.4';
/** The etcd release that Kubernetes 1.35.4 itself depends on. */
export const ETCD_VERSION = 'v3.6.5';
export const KWOK_VERSION = 'v0.8.0';

export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;
export type ControlPlaneBinary = (typeof CONTROL_PLANE_BINARIES)[number];
