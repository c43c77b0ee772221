// The jsonpatch package ships no types; the tests use only apply_patch.
declare module 'jsonpatch' {
  const jsonpatch: { apply_patch<T>(document: T, patch: readonly unknown[]): T };
  export default jsonpatch;
}
