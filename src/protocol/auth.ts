// Who may read activity or ask for a wake: callers with a Kubernetes service-account token issued
// for ebb's audience, checked with the TokenReview API. A token for another audience, expired or
// unknown → 401; a valid token of anyone but the allowed identity → 403.

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthenticationV1Api } from '@kubernetes/client-node';

export const EBB_AUDIENCE = 'ebb.dev';
/** The service accounts of ebb's programs, in the namespace ebb is installed into. */
export const CONTROLLER_ACCOUNT = 'ebb-controller';
export const AGENT_ACCOUNT = 'ebb-agent';

/** The username TokenReview gives a service account's token. */
export function serviceAccountIdentity(namespace: string, account: string): string {
  return `system:serviceaccount:${namespace}:${account}`;
}

export type TokenReviewResult = { authenticated: true; username: string } | { authenticated: false; reason: string };

export interface TokenVerifier {
  verify(token: string): Promise<TokenReviewResult>;
}

/** Asks the API server (TokenReview) whether the token is valid for the audience. */
export class TokenReviewVerifier implements TokenVerifier {
  constructor(
    private readonly api: AuthenticationV1Api,
    private readonly audience: string = EBB_AUDIENCE,
  ) {}

  async verify(token: string): Promise<TokenReviewResult> {
    const review = await this.api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] } },
    });
    const status = review.status;
    if (!status?.authenticated) return { authenticated: false, reason: status?.error ?? 'token not authenticated' };
    // The API server only authenticates a token for the requested audiences, but an authenticator
    // that ignores audiences answers without them: insist on ours.
    if (!status.audiences?.includes(this.audience)) return { authenticated: false, reason: `token is not for audience ${this.audience}` };
    const username = status.user?.username;
    if (!username) return { authenticated: false, reason: 'token review returned no username' };
    return { authenticated: true, username };
  }
}

/** Fixed token → identity table, for process-level tests without an API server. */
export class StaticTokenVerifier implements TokenVerifier {
  private readonly identities: ReadonlyMap<string, string>;

  constructor(identities: Record<string, string>) {
    this.identities = new Map(Object.entries(identities));
  }

  /** `token=username,token2=username2`, as passed in an environment variable. */
  static parse(spec: string): StaticTokenVerifier {
    const entries = spec
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`static token entry "${pair}" is not token=username`);
        return [pair.slice(0, at), pair.slice(at + 1)] as const;
      });
    return new StaticTokenVerifier(Object.fromEntries(entries));
  }

  verify(token: string): Promise<TokenReviewResult> {
    const username = this.identities.get(token);
    return Promise.resolve(username ? { authenticated: true, username } : { authenticated: false, reason: 'unknown token' });
  }
}

/**
 * Remembers verdicts for `ttlMs` so a caller polling every second costs one TokenReview per TTL.
 * Keys are token hashes (the tokens themselves are not kept); at most `maxEntries` are kept,
 * oldest evicted first. Failures of the verifier itself are not cached.
 */
export class CachingTokenVerifier implements TokenVerifier {
  private readonly entries = new Map<string, { result: TokenReviewResult; expiresAt: number }>();

  constructor(
    private readonly inner: TokenVerifier,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(token: string): Promise<TokenReviewResult> {
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.result;
    this.entries.delete(key);
    const result = await this.inner.verify(token);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { result, expiresAt: this.now() + this.ttlMs });
    return result;
  }
}

export type AuthDecision = { status: 200; username: string } | { status: 401 | 403 | 503; message: string };

/** Checks the request's bearer token and that it belongs to the allowed identity. */
export async function authorizeRequest(request: IncomingMessage, verifier: TokenVerifier, allowedIdentity: string): Promise<AuthDecision> {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) return { status: 401, message: 'missing bearer token' };
  let result: TokenReviewResult;
  try {
    result = await verifier.verify(match[1]);
  } catch (error) {
    return { status: 503, message: `cannot review the token: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!result.authenticated) return { status: 401, message: result.reason };
  if (result.username !== allowedIdentity) return { status: 403, message: `${result.username} may not do this; only ${allowedIdentity} may` };
  return { status: 200, username: result.username };
}
