// JSON Patch (RFC 6902) as the webhook emits it: only `add` operations. `add` creates a missing
// member and sets an existing one, so the mutation never needs `replace`, and never replaces a
// whole array or object the user wrote: it adds inside them (or creates them when absent).

export interface AddOperation {
  op: 'add';
  path: string;
  value: unknown;
}

/** A JSON Pointer from its segments; `/` and `~` in a segment (annotation keys!) are escaped. */
export function pointer(...segments: readonly (string | number)[]): string {
  return segments.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export const add = (path: string, value: unknown): AddOperation => ({ op: 'add', path, value });
