import { expect } from 'chai';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenFile } from '../../../src/protocol/token-file.ts';

describe('a token file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ebb-token-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the token it read until the recheck interval has passed, then reads a rotated one', async () => {
    const path = join(dir, 'token');
    writeFileSync(path, 'first\n');
    let now = 0;
    const token = new TokenFile(path, 10_000, () => now);
    expect(await token.read()).to.equal('first');
    writeFileSync(path, 'second\n');
    // The kubelet swaps the file for one with a new mtime.
    utimesSync(path, new Date(), new Date(Date.now() + 60_000));
    now = 9_999;
    expect(await token.read()).to.equal('first');
    now = 10_000;
    expect(await token.read()).to.equal('second');
  });

  it('fails while there is no file to read', async () => {
    const failure = await new TokenFile(join(dir, 'missing')).read().then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(failure).to.match(/ENOENT/);
  });
});
