// A projected service-account token read from its file (the agent's and the controller's, audience
// ebb.dev). The kubelet rotates it in place (the file changes well before the token expires), so
// it is re-read whenever the file's mtime changes. The file is looked at again only after
// `recheckMs`: the controller asks every tick, and a stat on each ask went through libuv's thread
// pool, and past whatever else waited on the event loop, before the tick could call the agents.

import { readFile, stat } from 'node:fs/promises';

/** The kubelet replaces the file at 80 % of the token's lifetime, which is ten minutes at the least: a check every 10 s is plenty. */
export const TOKEN_RECHECK_MS = 10_000;

export class TokenFile {
  private token: string | undefined;
  private mtimeMs = -1;
  private checkedAt = -Infinity;

  constructor(
    private readonly path: string,
    private readonly recheckMs = TOKEN_RECHECK_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async read(): Promise<string> {
    if (this.token !== undefined && this.now() - this.checkedAt < this.recheckMs) return this.token;
    const info = await stat(this.path);
    if (this.token === undefined || info.mtimeMs !== this.mtimeMs) {
      this.token = (await readFile(this.path, 'utf8')).trim();
      this.mtimeMs = info.mtimeMs;
    }
    this.checkedAt = this.now();
    return this.token;
  }
}
