// policy.yaml texts through the parser, for the tests of its sections: one that must be accepted,
// one that must be rejected.
import { parsePolicy, type Policy } from '../../../src/core/policy.ts';
import type { ConfigError } from '../../../src/core/setting-schema.ts';

/** The policy `text` parses to; its errors thrown when it is rejected. */
export function accepted(text: string): Policy {
  const parsed = parsePolicy(text);
  if (!parsed.ok) throw new Error(parsed.errors.map((error) => error.message).join('\n'));
  return parsed.policy;
}

/** What is wrong with `text`; throws when the policy is accepted. */
export function rejected(text: string): ConfigError[] {
  const parsed = parsePolicy(text);
  if (parsed.ok) throw new Error(`expected the policy to be rejected: ${JSON.stringify(text)}`);
  return parsed.errors;
}
