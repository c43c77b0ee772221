// Reads this node's kubelet /metrics/resource over HTTPS, as metrics-server does: the endpoint from
// the Node object (src/core/usage/kubelet-endpoint.ts), the agent's service-account token as
// bearer (the kubelet asks the API server whether it may `get nodes/metrics`), the kubelet's
// serving certificate checked against a CA — or, only when configured, not checked at all.
//
// The Node is read again after any failure: a kubelet that moved (new address, port or path) is
// found on the next scrape.

import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { kubeletMetricsUrl } from '../../../src/core/usage/kubelet-endpoint.ts';
import { TokenFile } from '../../../src/protocol/token-file.ts';
import type { KubeletUsageConfig } from '../config.ts';

/** A node's answer is ~100 KB for 110 pods; anything near this is not the kubelet's resource metrics. */
const MAX_BODY_BYTES = 16 * 2 ** 20;

export interface ResourceMetricsClientOptions {
  nodeName: string;
  readNode: (name: string) => Promise<V1Node>;
  token: TokenFile;
  /** PEM bundle that signed the kubelet's serving certificate. */
  caFile: string;
  /** Skip verifying the kubelet's certificate (metrics-server's --kubelet-insecure-tls): anyone on the path can read and forge the figures. */
  insecureTls: boolean;
  timeoutMs: number;
}

export class ResourceMetricsClient {
  private url: string | undefined;

  constructor(private readonly options: ResourceMetricsClientOptions) {}

  /** The metrics text; rejects with a message that names the step that failed. */
  async fetch(): Promise<string> {
    try {
      this.url ??= await this.endpoint();
      return await this.get(this.url);
    } catch (error) {
      this.url = undefined;
      throw error;
    }
  }

  private async endpoint(): Promise<string> {
    const node = await this.options.readNode(this.options.nodeName).catch((error: unknown) => {
      throw new Error(`reading node ${this.options.nodeName}: ${error instanceof Error ? error.message : String(error)}`);
    });
    const url = kubeletMetricsUrl(node);
    if (!url.ok) throw new Error(url.error);
    return url.value;
  }

  private async get(url: string): Promise<string> {
    const [token, ca] = await Promise.all([
      this.options.token.read().catch((error: unknown) => Promise.reject(new Error(`reading the kubelet token: ${String(error)}`))),
      this.options.insecureTls
        ? undefined
        : readFile(this.options.caFile, 'utf8').catch((error: unknown) => Promise.reject(new Error(`reading the kubelet CA: ${String(error)}`))),
    ]);
    const { timeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      const request = https.get(
        url,
        {
          ca,
          rejectUnauthorized: !this.options.insecureTls,
          // No Accept header: exporters answer the text format by default, while KWOK's router refuses
          // `text/plain;version=0.0.4` with a 406.
          headers: { Authorization: `Bearer ${token}` },
          timeout: timeoutMs,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY_BYTES) request.destroy(new Error(`GET ${url}: answer over ${MAX_BODY_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200) resolve(body);
            else reject(new Error(`GET ${url}: ${res.statusCode} ${body.trim().slice(0, 300)}`));
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
      request.on('error', (error) => reject(error.message.startsWith('GET ') ? error : new Error(`GET ${url}: ${error.message}`)));
    });
  }
}

/** The reader the agent uses in a cluster: the Node from the API server, the settings from the environment. */
export function kubeletMetricsReader(kubeConfig: KubeConfig, nodeName: string, settings: KubeletUsageConfig): () => Promise<string> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const client = new ResourceMetricsClient({
    nodeName,
    readNode: (name) => core.readNode({ name }),
    token: new TokenFile(settings.tokenFile),
    caFile: settings.caFile,
    insecureTls: settings.insecureTls,
    timeoutMs: settings.timeoutMs,
  });
  return () => client.fetch();
}
