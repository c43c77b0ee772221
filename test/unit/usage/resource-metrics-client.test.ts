// The kubelet client against a real HTTPS server on loopback standing in for the kubelet: the
// endpoint from the Node, the bearer token, the CA check and its insecure switch, errors that say
// what failed, and the Node read again after a failure.

import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { ResourceMetricsClient } from '../../../agent/node/kubelet/resource-metrics-client.ts';
import { createCertificateAuthority, issueCertificate } from '../../../certs/pki.ts';
import { TokenFile } from '../../../src/protocol/token-file.ts';

describe('ResourceMetricsClient', function () {
  this.timeout(20_000);
  const ca = createCertificateAuthority('test-kubelet-ca');
  const serving = issueCertificate(ca, { commonName: 'kubelet', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const otherCa = createCertificateAuthority('someone-else');
  let dir: string;
  let server: https.Server;
  let seen: { path: string | undefined; authorization: string | undefined }[];
  /** What the stand-in kubelet answers: status and body. */
  let answer: [number, string];
  let node: V1Node;
  let nodeReads: number;

  const nodeAt = (port: number): V1Node => ({
    metadata: { name: 'node-a', annotations: { 'metrics.k8s.io/resource-metrics-path': '/metrics/nodes/node-a/metrics/resource' } },
    status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
  });
  const client = (options: { caFile?: string; insecureTls?: boolean } = {}) =>
    new ResourceMetricsClient({
      nodeName: 'node-a',
      readNode: (name) => {
        nodeReads++;
        return name === 'node-a' ? Promise.resolve(node) : Promise.reject(new Error(`no node ${name}`));
      },
      token: new TokenFile(join(dir, 'token')),
      caFile: options.caFile ?? join(dir, 'ca.crt'),
      insecureTls: options.insecureTls ?? false,
      timeoutMs: 5_000,
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ebb-kubelet-client-'));
    writeFileSync(join(dir, 'token'), 'agent-token\n');
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'other-ca.crt'), otherCa.certPem);
    seen = [];
    answer = [200, 'container_memory_working_set_bytes{container="app",namespace="shop",pod="web-a"} 1024\n'];
    nodeReads = 0;
    server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      seen.push({ path: req.url, authorization: req.headers.authorization });
      res.writeHead(answer[0], { 'Content-Type': 'text/plain' }).end(answer[1]);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    node = nodeAt((server.address() as AddressInfo).port);
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the path the Node names, on its daemonEndpoints port, with the token as bearer and the kubelet's certificate checked", async () => {
    const reader = client();
    expect(await reader.fetch()).to.equal(answer[1]);
    expect(await reader.fetch()).to.equal(answer[1]);
    expect(seen).to.deep.equal([
      { path: '/metrics/nodes/node-a/metrics/resource', authorization: 'Bearer agent-token' },
      { path: '/metrics/nodes/node-a/metrics/resource', authorization: 'Bearer agent-token' },
    ]);
    expect(nodeReads, 'the Node is read once while all goes well').to.equal(1);
  });

  it('refuses a kubelet whose certificate the CA did not sign, unless told not to check', async () => {
    const error = await client({ caFile: join(dir, 'other-ca.crt') })
      .fetch()
      .then(
        () => undefined,
        (failure: Error) => failure,
      );
    expect(error?.message).to.match(/^GET https:\/\/127\.0\.0\.1:\d+\/metrics\/nodes\/node-a\/metrics\/resource: .*certificate/);
    expect(seen).to.deep.equal([]);
    expect(await client({ caFile: join(dir, 'missing.crt'), insecureTls: true }).fetch()).to.equal(answer[1]);
  });

  it("says what failed: the answer's status and body, a missing token or CA file", async () => {
    answer = [403, 'Forbidden (user=system:serviceaccount:ebb-system:ebb-agent, verb=get, resource=nodes, subresource=metrics)'];
    const forbidden = await client()
      .fetch()
      .then(
        () => undefined,
        (failure: Error) => failure.message,
      );
    expect(forbidden).to.match(/: 403 Forbidden \(user=system:serviceaccount:ebb-system:ebb-agent, verb=get, resource=nodes, subresource=metrics\)$/);
    const noCa = await client({ caFile: join(dir, 'missing.crt') })
      .fetch()
      .then(
        () => undefined,
        (failure: Error) => failure.message,
      );
    expect(noCa).to.match(/^reading the kubelet CA: .*ENOENT/);
    rmSync(join(dir, 'token'));
    const noToken = await client()
      .fetch()
      .then(
        () => undefined,
        (failure: Error) => failure.message,
      );
    expect(noToken).to.match(/^reading the kubelet token: .*ENOENT/);
  });

  it('reads the Node again after a failure, so a kubelet that moved is found', async () => {
    const reader = client();
    const port = node.status!.daemonEndpoints!.kubeletEndpoint!.Port;
    node = nodeAt(1); // nothing listens on port 1
    await reader.fetch().then(
      () => expect.fail('port 1 answered'),
      () => undefined,
    );
    node = nodeAt(port);
    expect(await reader.fetch()).to.equal(answer[1]);
    expect(nodeReads).to.equal(2);
    node = { metadata: { name: 'node-a' }, status: {} };
    const noAddress = await client()
      .fetch()
      .then(
        () => undefined,
        (failure: Error) => failure.message,
      );
    expect(noAddress).to.equal('node node-a has no address in its status');
  });
});
