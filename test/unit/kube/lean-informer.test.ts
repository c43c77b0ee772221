import { expect } from 'chai';
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { replicaSetIdentity, withoutManagedFields, withSpecShared } from '../../../src/kube/lean-informer.ts';

const managedFields = [{ manager: 'kube-controller-manager', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': {} } }];

describe('lean informer copies', () => {
  it('drop managedFields and keep everything else of the object, leaving the object as it was', () => {
    const deployment: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop', resourceVersion: '7', annotations: { 'ebb.dev/status': '{}' }, managedFields },
      spec: { selector: { matchLabels: { app: 'web' } }, template: {} },
    };
    const lean = withoutManagedFields(deployment);
    expect(lean).to.deep.equal({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop', resourceVersion: '7', annotations: { 'ebb.dev/status': '{}' } },
      spec: deployment.spec,
    });
    expect(deployment.metadata?.managedFields).to.equal(managedFields);
    const without = { metadata: { name: 'plain' } };
    expect(withoutManagedFields(without)).to.equal(without);
  });

  it('keep of a ReplicaSet who it is and who owns it', () => {
    const ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u1', controller: true }];
    const replicaSet: V1ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-abc',
        namespace: 'shop',
        uid: 'u2',
        resourceVersion: '9',
        ownerReferences,
        labels: { app: 'web' },
        annotations: { a: 'b' },
        managedFields,
      },
      spec: { selector: { matchLabels: { app: 'web' } }, template: {} },
      status: { replicas: 3 },
    };
    expect(replicaSetIdentity(replicaSet)).to.deep.equal({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-abc', namespace: 'shop', uid: 'u2', resourceVersion: '9', ownerReferences },
    });
  });

  it('share the cached spec while the generation stays, and take the new one when it moves or the object is another', () => {
    const cached: V1Deployment = { metadata: { name: 'web', uid: 'u1', generation: 3 }, spec: { replicas: 2, selector: {}, template: {} } };
    const annotated: V1Deployment = {
      metadata: { name: 'web', uid: 'u1', generation: 3, annotations: { a: 'b' } },
      spec: { replicas: 2, selector: {}, template: {} },
    };
    const shared = withSpecShared(annotated, cached);
    expect(shared.spec).to.equal(cached.spec);
    expect(shared.metadata).to.equal(annotated.metadata);
    const scaled: V1Deployment = { metadata: { name: 'web', uid: 'u1', generation: 4 }, spec: { replicas: 5, selector: {}, template: {} } };
    expect(withSpecShared(scaled, cached)).to.equal(scaled);
    const recreated: V1Deployment = { metadata: { name: 'web', uid: 'u2', generation: 3 }, spec: { replicas: 1, selector: {}, template: {} } };
    expect(withSpecShared(recreated, cached)).to.equal(recreated);
    expect(withSpecShared(annotated, undefined)).to.equal(annotated);
    expect(withSpecShared({ metadata: { name: 'web', uid: 'u1' } }, cached).spec).to.equal(undefined);
  });
});
