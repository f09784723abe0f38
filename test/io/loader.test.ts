// The file loaders: the same relative paths read from a folder (Node's fs) and from a URL (fetch, as
// in a page) give the same bytes, and a missing file is an error that names it.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchLoader, fileLoader, readSafetensors } from '@sd/io';
import { ROOT } from '../util/readme.ts';

const FIXTURES = join(ROOT, 'test/fixtures');
const FILE = 'clip/reference.safetensors';

let server: Server;
let base = '';

beforeAll(async () => {
  // Serves test/fixtures, with 404 for anything missing.
  server = createServer((req, res) => {
    try {
      const body = readFileSync(join(FIXTURES, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('loaders', () => {
  it('fileLoader and fetchLoader read the same bytes for the same relative path', async () => {
    const onDisk = readFileSync(join(FIXTURES, FILE));
    const fromFile = await fileLoader(FIXTURES).bytes(FILE);
    const fromUrl = await fetchLoader(base).bytes(FILE);
    expect(Buffer.from(fromFile).equals(onDisk)).toBe(true);
    expect(Buffer.from(fromUrl).equals(onDisk)).toBe(true);
    // and parse alike
    expect([...readSafetensors(fromUrl, { label: FILE }).tensors.keys()]).toEqual([...readSafetensors(join(FIXTURES, FILE)).tensors.keys()]);
  });

  it('text decodes UTF-8', async () => {
    expect(JSON.parse(await fetchLoader(base).text('clip/meta.json'))).toEqual(JSON.parse(readFileSync(join(FIXTURES, 'clip/meta.json'), 'utf8')));
  });

  it('a base URL without a trailing slash is a folder, not a file to replace', async () => {
    const clip = fetchLoader(`${base}clip`);
    expect(clip.root).toBe(`${base}clip/`);
    expect((await clip.bytes('meta.json')).byteLength).toBeGreaterThan(0);
  });

  it('missing files are errors naming the file or URL', async () => {
    await expect(fileLoader(FIXTURES).bytes('nope.bin')).rejects.toThrow(`${join(FIXTURES, 'nope.bin')}: cannot read (ENOENT`);
    await expect(fetchLoader(base).bytes('nope.bin')).rejects.toThrow(`${base}nope.bin: HTTP 404`);
    await expect(fetchLoader('http://127.0.0.1:9/').bytes('x')).rejects.toThrow('http://127.0.0.1:9/x: cannot fetch');
  });
});
