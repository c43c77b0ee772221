// Pods as the webhook receives them from a Deployment's ReplicaSet, for the mutation tests.
import type { V1Container, V1Pod } from '@kubernetes/client-node';

export function deploymentPod(options: { annotations?: Record<string, string>; containers?: V1Container[]; initContainers?: V1Container[] } = {}): V1Pod {
  return {
    metadata: {
      generateName: 'web-7d9f8-',
      labels: { app: 'web', 'pod-template-hash': '7d9f8' },
      ...(options.annotations ? { annotations: options.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8', uid: 'rs-uid', controller: true }],
    },
    spec: {
      containers: options.containers ?? [{ name: 'app', image: 'example/web:1', ports: [{ name: 'http', containerPort: 8080 }] }],
      ...(options.initContainers ? { initContainers: options.initContainers } : {}),
    },
  };
}
