import { expect } from 'chai';
import { parse } from 'yaml';
import { parseCommandLine, UsageError } from '../../../src/cli/kubectl-ebb/args.ts';
import { age, cpu, memory, structured, table } from '../../../src/cli/kubectl-ebb/output.ts';

describe('kubectl ebb command line', () => {
  it("takes status and check with kubectl's flags, ebb-system by default", () => {
    expect(parseCommandLine(['status'])).to.deep.equal({ name: 'status', options: { ebbNamespace: 'ebb-system', output: 'table' } });
    expect(parseCommandLine(['check', '--kubeconfig', '/k', '--context', 'prod', '--ebb-namespace', 'ebb', '-o', 'json'])).to.deep.equal({
      name: 'check',
      options: { kubeconfig: '/k', context: 'prod', ebbNamespace: 'ebb', output: 'json' },
    });
  });

  it('takes a Deployment to explain as kubectl writes it', () => {
    for (const args of [['deploy/web'], ['deployment/web'], ['deployments.apps/web'], ['deploy', 'web']]) {
      expect(parseCommandLine(['explain', ...args, '-n', 'shop']), args.join(' ')).to.deep.include({ name: 'explain', deployment: 'web' });
    }
  });

  it('says what is wrong with a command line it does not take', () => {
    const problem = (args: string[]) => {
      try {
        parseCommandLine(args);
      } catch (error) {
        expect(error).to.be.instanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${args.join(' ')}`);
    };
    expect(problem(['status', '-o', 'wide'])).to.equal('-o wide is not accepted: expected table | json | yaml');
    expect(problem(['explain', 'pod/web'])).to.contain('explain takes a Deployment');
    expect(problem(['explain'])).to.contain('explain takes a Deployment');
    expect(problem(['scale'])).to.contain('unknown command "scale"');
    expect(problem(['status', '--replicas'])).to.contain('--replicas');
  });

  it('answers help with no command, help, -h or --help', () => {
    for (const args of [[], ['help'], ['-h'], ['status', '--help']]) expect(parseCommandLine(args)).to.deep.equal({ name: 'help' });
  });
});

describe('kubectl ebb output', () => {
  it('aligns a table as kubectl does', () => {
    expect(
      table(
        ['NAME', 'REPLICAS'],
        [
          ['web', '3'],
          ['checkout', '10'],
        ],
      ),
    ).to.equal('NAME      REPLICAS\nweb       3\ncheckout  10\n');
  });

  it('gives the same data as JSON or YAML, and nothing for the table form', () => {
    const data = { workloads: [{ name: 'web' }] };
    expect(JSON.parse(structured('json', data)!)).to.deep.equal(data);
    expect(parse(structured('yaml', data)!)).to.deep.equal(data);
    expect(structured('table', data)).to.equal(undefined);
  });

  it('says ages as kubectl does', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    const ago = (ms: number) => age(new Date(now - ms).toISOString(), now);
    expect([ago(5_000), ago(5 * 60_000), ago(3 * 3_600_000), ago(3 * 86_400_000)]).to.deep.equal(['5s', '5m', '3h', '3d']);
    expect(age(null, now)).to.equal('-');
  });

  it('prints CPU and memory for people', () => {
    expect([cpu(250), cpu(2000), cpu(undefined)]).to.deep.equal(['250m', '2', '-']);
    expect([memory(63 * 2 ** 20), memory(1.5 * 2 ** 30), memory(-961 * 2 ** 20), memory(100), memory(undefined)]).to.deep.equal([
      '63Mi',
      '1.5Gi',
      '-961Mi',
      '100',
      '-',
    ]);
  });
});
