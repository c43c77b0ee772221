// The API server's answers that callers act on, from client-node's ApiException.

export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409;
export const isTooManyRequests = (error: unknown) => statusCode(error) === 429;

/**
 * What the API server said, from the Status in a client error: its message and the causes it names
 * (an eviction's 429 names the PodDisruptionBudget in a cause); the error's own text otherwise.
 */
export function statusMessage(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string; details?: { causes?: { message?: string }[] } } | undefined;
    const causes = (status?.details?.causes ?? []).flatMap((cause) => (cause.message ? [cause.message] : []));
    if (status?.message) return causes.length > 0 ? `${status.message} (${causes.join('; ')})` : status.message;
  } catch {
    // Not a Status: the error's own text will do.
  }
  return error instanceof Error ? error.message : String(error);
}
