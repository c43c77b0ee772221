import { expect } from 'chai';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { formatLocalUrls, LOCAL_URL_ANNOTATION, localUrlsOf, parseLocalUrls } from '../../../src/core/report/local-urls.ts';
import { podPortFor } from '../../../src/core/service-target.ts';
import { renderStatus, type StatusReport } from '../../../src/cli/kubectl-ebb/status.ts';
import { workloadStatus } from '../../../src/core/report/workload-status.ts';
import { DEFAULT_POLICY } from '../../../src/core/policy.ts';

const service = (name: string, selector: Record<string, string> | undefined, annotation?: string): V1Service => ({
  metadata: { name, namespace: 'shop', ...(annotation === undefined ? {} : { annotations: { [LOCAL_URL_ANNOTATION]: annotation } }) },
  spec: { selector },
});

describe("the local sandbox's URLs on Services", () => {
  it('writes one PORT=URL per Service port, by port, and reads them back', () => {
    const text = formatLocalUrls([
      { port: 8080, url: 'http://127.0.0.1:41002/' },
      { port: 80, url: 'http://127.0.0.1:41001/' },
    ]);
    expect(text).to.equal('80=http://127.0.0.1:41001/ 8080=http://127.0.0.1:41002/');
    expect(parseLocalUrls('web', text)).to.deep.equal([
      { service: 'web', port: 80, url: 'http://127.0.0.1:41001/' },
      { service: 'web', port: 8080, url: 'http://127.0.0.1:41002/' },
    ]);
    expect(parseLocalUrls('web', 'nonsense 80= =x')).to.deep.equal([]);
    expect(parseLocalUrls('web', undefined)).to.deep.equal([]);
  });

  it('gives a workload the URLs of the Services that select its pods only', () => {
    const services = [
      service('web', { app: 'web' }, '80=http://127.0.0.1:41001/'),
      service('admin', { app: 'web', tier: 'admin' }, '81=http://127.0.0.1:41003/'),
      service('other', { app: 'other' }, '80=http://127.0.0.1:41004/'),
      service('plain', { app: 'web' }),
    ];
    expect(localUrlsOf(services, { app: 'web' }).map(({ service: name, port }) => `${name}:${port}`)).to.deep.equal(['web:80']);
    expect(localUrlsOf(services, { app: 'web', tier: 'admin' }).map(({ service: name }) => name)).to.deep.equal(['admin', 'web']);
  });
});

describe("a Service port's pod port (as kube-proxy resolves it)", () => {
  const pod: V1Pod = {
    spec: {
      initContainers: [
        { name: 'ebb-interceptor', restartPolicy: 'Always', ports: [{ name: 'http', containerPort: 18080 }] },
        { name: 'setup', ports: [{ name: 'init', containerPort: 9 }] },
      ],
      containers: [
        {
          name: 'app',
          ports: [
            { name: 'ebb-app', containerPort: 8080 },
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
          ],
        },
      ],
    },
  };
  it('takes a number as is, and a name from the containers, then the native sidecars, with its protocol', () => {
    expect(podPortFor(pod, { port: 80, targetPort: 9000 })).to.equal(9000);
    expect(podPortFor(pod, { port: 80 })).to.equal(80);
    expect(podPortFor(pod, { port: 80, targetPort: 'http' })).to.equal(18080);
    expect(podPortFor(pod, { port: 80, targetPort: 'ebb-app' })).to.equal(8080);
    expect(podPortFor(pod, { port: 53, targetPort: 'dns' })).to.equal(undefined);
    expect(podPortFor(pod, { port: 53, targetPort: 'dns', protocol: 'UDP' })).to.equal(53);
    expect(podPortFor(pod, { port: 9, targetPort: 'init' })).to.equal(undefined);
  });
});

describe('kubectl ebb status with local URLs', () => {
  const row = (name: string) =>
    workloadStatus({
      namespace: 'shop',
      name,
      resize: 'initial',
      replicas: { spec: 1, actual: 1, ready: 1 },
      status: undefined,
      containers: [{ name: 'app', requests: {} }],
      defaultRequests: DEFAULT_POLICY.defaultRequests,
    });
  it('adds the LOCAL-URL column only when some workload has one', () => {
    const plain: StatusReport = { workloads: [row('web')], saved: { cpu: 0, memory: 0 } };
    expect(renderStatus(plain, 0)).not.to.contain('LOCAL-URL');
    const sandboxed: StatusReport = {
      workloads: [
        {
          ...row('web'),
          localUrls: [
            { service: 'web', port: 80, url: 'http://127.0.0.1:41001/' },
            { service: 'web', port: 8080, url: 'http://127.0.0.1:41002/' },
          ],
        },
        row('worker'),
      ],
      saved: { cpu: 0, memory: 0 },
    };
    const [header, web, worker] = renderStatus(sandboxed, 0).split('\n');
    expect(header).to.match(/REQUESTS → RECOMMENDED \(CPU\/MEMORY\)\s+LOCAL-URL$/);
    expect(web).to.match(/web:80 http:\/\/127\.0\.0\.1:41001\/, web:8080 http:\/\/127\.0\.0\.1:41002\/$/);
    expect(worker).to.match(/\s-$/);
  });
});
