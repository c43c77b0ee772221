// The controller's certificate settings from its environment: the mode and the lifetimes, each
// refused with the variable's name when it is out of what is accepted.

import { expect } from 'chai';
import { controllerConfig } from '../../../src/controller/config.ts';
import { EnvironmentError } from '../../../src/program/environment.ts';

const problemsOf = (env: NodeJS.ProcessEnv): readonly string[] => {
  try {
    controllerConfig(env);
  } catch (error) {
    if (error instanceof EnvironmentError) return error.problems;
    throw error;
  }
  return [];
};

describe('controller certificate settings', () => {
  it('is external by default (a controller handed its CA as a file), with a year and ten years of validity', () => {
    expect(controllerConfig({ POD_NAMESPACE: 'platform-ebb' }).certificates).to.deep.equal({
      mode: 'external',
      webhookCaFile: '/etc/ebb/tls/ca.crt',
      webhookConfiguration: 'ebb',
      namespace: 'platform-ebb',
      webhookService: 'ebb-webhook',
      servingValidityMs: 365 * 86_400_000,
      caValidityMs: 3650 * 86_400_000,
    });
  });

  it('takes self-managed and durations', () => {
    const { certificates } = controllerConfig({ EBB_WEBHOOK_CERTIFICATES: 'self-managed', EBB_WEBHOOK_SERVING_VALIDITY: '30s', EBB_WEBHOOK_CA_VALIDITY: '2m' });
    expect(certificates).to.include({ mode: 'self-managed', servingValidityMs: 30_000, caValidityMs: 120_000 });
  });

  it('refuses another mode, a duration it cannot read or too short, and a CA that would not outlive what it signs', () => {
    expect(problemsOf({ EBB_WEBHOOK_CERTIFICATES: 'cert-manager', EBB_WEBHOOK_SERVING_VALIDITY: '365', EBB_WEBHOOK_CA_VALIDITY: '5s' })).to.deep.equal([
      'EBB_WEBHOOK_CERTIFICATES: "cert-manager" is not accepted: expected self-managed or external',
      'EBB_WEBHOOK_SERVING_VALIDITY: "365" is not accepted: expected a duration such as 250ms, 30s, 5m or 1h30m',
      'EBB_WEBHOOK_CA_VALIDITY: "5s" is not accepted: expected at least 30s',
    ]);
    expect(problemsOf({ EBB_WEBHOOK_SERVING_VALIDITY: '8760h', EBB_WEBHOOK_CA_VALIDITY: '17520h' })).to.deep.equal([
      'EBB_WEBHOOK_CA_VALIDITY: "17520h" is not accepted: it must be at least three times EBB_WEBHOOK_SERVING_VALIDITY=8760h',
    ]);
  });
});
