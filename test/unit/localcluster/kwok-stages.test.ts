// The KWOK configuration ebb passes to kwok: every document a Stage that kwok can read, built by
// kwok-stages.ts's stage() and match-expression helpers.
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { KWOK_STAGES, TEST_OOM_KILL_ANNOTATION, TEST_RESIZE_DEFERRED_ANNOTATION } from '../../../src/localcluster/kwok-stages.ts';

interface Stage {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    resourceRef: { apiGroup: string; kind: string };
    selector: { matchExpressions: { key: string; operator: string; values?: string[] }[] };
    next: Record<string, unknown>;
  };
}

const stages = (): Stage[] =>
  parseAllDocuments(KWOK_STAGES).map((document) => {
    expect(document.errors, String(document.errors)).to.deep.equal([]);
    return document.toJS() as Stage;
  });

describe('KWOK stages', () => {
  it('are Stage documents with unique names, for nodes and pods', () => {
    const all = stages();
    expect(all.map((stage) => stage.metadata.name)).to.deep.equal([
      'ebb-node-ready',
      'ebb-pod-running',
      'ebb-pod-ready-again',
      'ebb-pod-deleted',
      'ebb-test-oom-kill',
      'ebb-pod-resized',
      'ebb-pod-resize-infeasible',
      'ebb-test-resize-deferred',
    ]);
    for (const stage of all) {
      expect(stage, stage.metadata.name).to.deep.include({ apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Stage' });
      expect(stage.spec.resourceRef, stage.metadata.name).to.deep.equal({ apiGroup: 'v1', kind: stage.metadata.name === 'ebb-node-ready' ? 'Node' : 'Pod' });
      expect(Object.keys(stage.spec.next), stage.metadata.name).to.have.length.greaterThan(0);
    }
  });

  it('select with expressions kwok accepts: values with In and NotIn, none with Exists and DoesNotExist', () => {
    for (const stage of stages()) {
      expect(stage.spec.selector.matchExpressions, stage.metadata.name).to.have.length.greaterThan(0);
      for (const { key, operator, values } of stage.spec.selector.matchExpressions) {
        expect(key, stage.metadata.name).to.be.a('string').and.not.equal('');
        expect(['In', 'NotIn', 'Exists', 'DoesNotExist'], `${stage.metadata.name}: ${key}`).to.include(operator);
        if (operator === 'In' || operator === 'NotIn') expect(values, `${stage.metadata.name}: ${key}`).to.be.an('array').with.length.greaterThan(0);
        else expect(values, `${stage.metadata.name}: ${key}`).to.equal(undefined);
      }
    }
  });

  it('act on a live pod only, except the stage that deletes the deleted ones', () => {
    for (const stage of stages().filter((candidate) => candidate.spec.resourceRef.kind === 'Pod')) {
      const deletion = stage.spec.selector.matchExpressions.find((expression) => expression.key === '.metadata.deletionTimestamp');
      expect(deletion?.operator, stage.metadata.name).to.equal(stage.metadata.name === 'ebb-pod-deleted' ? 'Exists' : 'DoesNotExist');
    }
  });

  it("look for the test hooks' annotations by name", () => {
    const keys = stages().flatMap((stage) => stage.spec.selector.matchExpressions.map((expression) => expression.key));
    expect(keys).to.include(`.metadata.annotations["${TEST_OOM_KILL_ANNOTATION}"]`);
    expect(keys.filter((key) => key === `.metadata.annotations["${TEST_RESIZE_DEFERRED_ANNOTATION}"]`)).to.have.length(3);
  });
});
