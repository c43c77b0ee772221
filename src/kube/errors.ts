// The API server's answers that callers act on, from client-node's ApiException.

export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409;
export const isTooManyRequests = (error: unknown) => statusCode(error) === 429;

interface ApiStatus {
  message?: string;
  details?: { causes?: { message?: string }[] };
}

/** The API server's Status carried by a client error; undefined when the body is not one. */
export function apiStatus(error: unknown): ApiStatus | undefined {
  const body = (error as { body?: unknown } | null)?.body;
  try {
    const status: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    return typeof status === 'object' && status !== null ? status : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the API server said, from the Status in a client error: its message and the causes it names
 * (an eviction's 429 names the PodDisruptionBudget in a cause); the error's own text otherwise.
 */
export function statusMessage(error: unknown): string {
  const status = apiStatus(error);
  const causes = (status?.details?.causes ?? []).flatMap((cause) => (cause.message ? [cause.message] : []));
  if (status?.message) return causes.length > 0 ? `${status.message} (${causes.join('; ')})` : status.message;
  return error instanceof Error ? error.message : String(error);
}
