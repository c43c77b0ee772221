import { expect } from 'chai';
import { owningDeploymentName } from '../../../src/core/owner.ts';

const controlledBy = (kind: string, name: string) => [{ apiVersion: 'apps/v1', kind, name, uid: `uid-${name}`, controller: true }];
const pod = { name: 'web-7d9f8-abcde', labels: { 'pod-template-hash': '7d9f8' }, ownerReferences: controlledBy('ReplicaSet', 'web-7d9f8') };

describe('owningDeploymentName', () => {
  it("reads the ReplicaSet's controller from the cache", () => {
    expect(owningDeploymentName(pod, { name: 'web-7d9f8', ownerReferences: controlledBy('Deployment', 'web') })).to.equal('web');
  });

  it('derives the name from the pod-template-hash when the cache has not seen the ReplicaSet', () => {
    expect(owningDeploymentName(pod, undefined)).to.equal('web');
    expect(
      owningDeploymentName({ ...pod, labels: { 'pod-template-hash': 'abc' }, ownerReferences: controlledBy('ReplicaSet', 'my-app-v2-abc') }, undefined),
    ).to.equal('my-app-v2');
  });

  it('gives none for a ReplicaSet that no Deployment controls', () => {
    expect(owningDeploymentName(pod, { name: 'web-7d9f8', ownerReferences: [] })).to.equal(undefined);
  });

  it('gives none when the name does not end with the hash, or the pod has no ReplicaSet', () => {
    expect(owningDeploymentName({ ...pod, labels: {} }, undefined)).to.equal(undefined);
    expect(owningDeploymentName({ ...pod, labels: { 'pod-template-hash': 'zzz' } }, undefined)).to.equal(undefined);
    expect(owningDeploymentName({ name: 'db-0', ownerReferences: controlledBy('StatefulSet', 'db') }, undefined)).to.equal(undefined);
    expect(owningDeploymentName({ name: 'bare' }, undefined)).to.equal(undefined);
  });

  it('ignores an owner reference that is not the controller', () => {
    const notController = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8', uid: 'u', controller: false }];
    expect(owningDeploymentName({ ...pod, ownerReferences: notController }, undefined)).to.equal(undefined);
  });
});
