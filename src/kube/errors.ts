// The API server's answers that callers act on, from client-node's ApiException.

export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409;
export const isTooManyRequests = (error: unknown) => statusCode(error) === 429;
