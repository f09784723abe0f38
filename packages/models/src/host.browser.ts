// host.node.ts's names in a page. There is no file system: reading or writing by path throws, naming
// the call and the way a page reads files (a FileLoader). What the tokenizer needs at load time has
// real implementations: gunzip (fflate) and SHA-256 (math/sha256.ts).
import type * as fs from 'node:fs';
import type * as fsPromises from 'node:fs/promises';
import type * as path from 'node:path';
import type * as url from 'node:url';
import { gunzipSync as inflateGzip } from 'fflate';
import { Sha256 } from './math/sha256.ts';

function unavailable<F>(name: string): F {
  return ((..._args: unknown[]) => {
    throw new Error(`${name}: there is no file system in a page; load files with a FileLoader (fetchLoader from @sd/io) and the loader-taking functions (e.g. AutoencoderKL.fromLoader)`);
  }) as F;
}

export const appendFileSync = unavailable<typeof fs.appendFileSync>('appendFileSync');
export const closeSync = unavailable<typeof fs.closeSync>('closeSync');
export const existsSync = unavailable<typeof fs.existsSync>('existsSync');
export const mkdirSync = unavailable<typeof fs.mkdirSync>('mkdirSync');
export const openSync = unavailable<typeof fs.openSync>('openSync');
export const readdirSync = unavailable<typeof fs.readdirSync>('readdirSync');
export const readFileSync = unavailable<typeof fs.readFileSync>('readFileSync');
export const readSync = unavailable<typeof fs.readSync>('readSync');
export const statSync = unavailable<typeof fs.statSync>('statSync');
export const unlinkSync = unavailable<typeof fs.unlinkSync>('unlinkSync');
export const writeFileSync = unavailable<typeof fs.writeFileSync>('writeFileSync');
export const mkdir = unavailable<typeof fsPromises.mkdir>('mkdir');
export const readFile = unavailable<typeof fsPromises.readFile>('readFile');
export const stat = unavailable<typeof fsPromises.stat>('stat');
export const writeFile = unavailable<typeof fsPromises.writeFile>('writeFile');
export const dirname = unavailable<typeof path.dirname>('dirname');
export const isAbsolute = unavailable<typeof path.isAbsolute>('isAbsolute');
export const join = unavailable<typeof path.join>('join');
export const normalize = unavailable<typeof path.normalize>('normalize');
export const relative = unavailable<typeof path.relative>('relative');
export const sep = '/';
export const fileURLToPath = unavailable<typeof url.fileURLToPath>('fileURLToPath');

/** node:crypto's createHash for the one algorithm the project uses. */
export function createHash(algorithm: 'sha256'): Sha256 {
  if (algorithm !== 'sha256') throw new Error(`createHash: only sha256 is available in a page, not ${JSON.stringify(algorithm)}`);
  return new Sha256();
}

export const gunzipSync = (data: Uint8Array): Uint8Array => inflateGzip(data);

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
