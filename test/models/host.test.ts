// The page's stand-ins for Node's modules (host.browser.ts of @sd/models and @sd/io), run here in
// Node against the real ones: SHA-256, gunzip and base64 give Node's results (the tokenizer checks
// its merges with them in a page), and reading by path fails with a message that says what to use.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as ioPage from '../../packages/io/src/host.browser.ts';
import * as page from '../../packages/models/src/host.browser.ts';
import { BPE_MERGES_GZIP_BASE64, BPE_MERGES_SHA256 } from '../../packages/models/src/clip/bpe-vocab.generated.ts';
import { loadClipMerges } from '@sd/models';
import { makeRng } from '../util/random.ts';

describe('page host of @sd/models', () => {
  it('SHA-256 matches node:crypto at every length around the block and padding edges, and incrementally', () => {
    const rng = makeRng(1);
    for (let n = 0; n <= 200; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rng() * 256));
      expect(page.createHash('sha256').update(bytes).digest('hex'), `${n} bytes`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    const parts = ['', 'ab', 'c'.repeat(63), '×—é', 'x'.repeat(1000)];
    const ours = page.createHash('sha256');
    const node = createHash('sha256');
    for (const p of parts) {
      ours.update(p);
      node.update(p);
    }
    expect(ours.digest('hex')).toBe(node.digest('hex'));
  });

  it('decodes the bundled BPE merges exactly as Node does (same text, same checked digest)', () => {
    const text = new TextDecoder().decode(page.gunzipSync(page.fromBase64(BPE_MERGES_GZIP_BASE64)));
    expect(page.createHash('sha256').update(text).digest('hex')).toBe(BPE_MERGES_SHA256);
    expect(text.split('\n')).toEqual(loadClipMerges());
    const sample = new TextEncoder().encode('gzip round trip ✓');
    expect(page.gunzipSync(gzipSync(sample))).toEqual(sample);
  });

  it('refuses what it does not implement, and file access, saying what to use instead', () => {
    expect(() => page.createHash('md5' as 'sha256')).toThrow('createHash: only sha256 is available in a page, not "md5"');
    expect(() => page.readFileSync('x')).toThrow('readFileSync: there is no file system in a page; load files with a FileLoader (fetchLoader from @sd/io)');
    expect(() => page.existsSync('x')).toThrow('existsSync: there is no file system in a page');
    expect(() => ioPage.readFileSync('x')).toThrow('readFileSync: there is no file system in a page; read files with a loader (fetchLoader from @sd/io)');
    expect(() => ioPage.zlib.inflateRawSync(new Uint8Array(1))).toThrow('inflateRawSync (a deflated zip entry): there is no file system in a page');
  });
});
