// Whether the API server lets an in-place resize lower a memory limit. Kubernetes 1.33 refused it
// unless the container's memory resizePolicy was RestartContainer; from 1.34 it is allowed (the
// kubelet declines a limit below current usage and says so with PodResizeInProgress, reason
// Error). Decided from the server's own version (GET /version). Pure.

/** `major` and `minor` as /version returns them (`"1"`, `"35"`; some distributions write `"35+"`). */
export function allowsMemoryLimitDecrease(version: { major: string; minor: string }): boolean {
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10);
  if (!Number.isFinite(major) || !Number.isFinite(minor)) return false;
  return major > 1 || (major === 1 && minor >= 34);
}
