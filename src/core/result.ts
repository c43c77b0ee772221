// Parsers in the core never throw on bad user input: they return a Result whose error is a
// sentence a user can act on (the value, and what is accepted). The caller that knows where the
// value came from (an annotation key, a policy field) prefixes that.

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(error: string): Result<T> => ({ ok: false, error });
