// Where a Service port's traffic lands in a pod, as kube-proxy's endpoints say it (Kubernetes'
// podutil.FindPort): a numeric targetPort is that number, a named one is the container port of
// that name and protocol — in the containers, then in the native sidecars (init containers that
// restart Always), which is where the webhook's takeover moves the name to the interceptor.
// Pure: the activator resolves its backends with it (agent/node/activator/pod-backends.ts), and
// the local sandbox's kube-proxy each request's pod port.

import type { V1Pod, V1ServicePort } from '@kubernetes/client-node';

export function podPortFor(pod: V1Pod, servicePort: V1ServicePort): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  const protocol = servicePort.protocol ?? 'TCP';
  const nativeSidecars = (pod.spec?.initContainers ?? []).filter((container) => container.restartPolicy === 'Always');
  const declared = [...(pod.spec?.containers ?? []), ...nativeSidecars].flatMap((container) => container.ports ?? []);
  return declared.find((port) => port.name === target && (port.protocol ?? 'TCP') === protocol)?.containerPort;
}
