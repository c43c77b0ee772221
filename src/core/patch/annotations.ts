// Adds annotations to a pod: one operation per key when the pod has annotations, else the whole
// map at once (a JSON Patch cannot add a member to an object that does not exist).
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { add, pointer, type AddOperation } from './json-patch.ts';

/** Operations that add `annotations` to the pod's metadata; keys the pod already has are kept as they are. */
export function addAnnotations(meta: V1ObjectMeta | undefined, annotations: Readonly<Record<string, string>>): AddOperation[] {
  if (!meta) return [add(pointer('metadata'), { annotations })];
  const existing = meta.annotations;
  if (!existing) return [add(pointer('metadata', 'annotations'), annotations)];
  return Object.entries(annotations)
    .filter(([key]) => existing[key] === undefined)
    .map(([key, value]) => add(pointer('metadata', 'annotations', key), value));
}
