// A projected service-account token read from its file (the agent's and the controller's, audience
// ebb.dev). The kubelet rotates it in place (the file changes well before the token expires), so
// it is re-read whenever the file's mtime changes.

import { readFile, stat } from 'node:fs/promises';

export class TokenFile {
  private token: string | undefined;
  private mtimeMs = -1;

  constructor(private readonly path: string) {}

  async read(): Promise<string> {
    const info = await stat(this.path);
    if (this.token === undefined || info.mtimeMs !== this.mtimeMs) {
      this.token = (await readFile(this.path, 'utf8')).trim();
      this.mtimeMs = info.mtimeMs;
    }
    return this.token;
  }
}
