// host.node.ts's names in a page, which has no file system: each throws, naming what was asked for
// and what to use instead. Byte parsers (parseSafetensorsHeader, readSafetensors on bytes, parseNpy,
// ZipArchive on bytes with stored entries) need none of them.
import type * as fs from 'node:fs';
import type * as fsPromises from 'node:fs/promises';
import type * as path from 'node:path';
import type * as nodeZlib from 'node:zlib';

function unavailable<F>(name: string): F {
  return ((..._args: unknown[]) => {
    throw new Error(`${name}: there is no file system in a page; read files with a loader (fetchLoader from @sd/io) and pass the bytes to the parser`);
  }) as F;
}

export const closeSync = unavailable<typeof fs.closeSync>('closeSync');
export const fstatSync = unavailable<typeof fs.fstatSync>('fstatSync');
export const fsyncSync = unavailable<typeof fs.fsyncSync>('fsyncSync');
export const openSync = unavailable<typeof fs.openSync>('openSync');
export const readFileSync = unavailable<typeof fs.readFileSync>('readFileSync');
export const readSync = unavailable<typeof fs.readSync>('readSync');
export const renameSync = unavailable<typeof fs.renameSync>('renameSync');
export const unlinkSync = unavailable<typeof fs.unlinkSync>('unlinkSync');
export const writeSync = unavailable<typeof fs.writeSync>('writeSync');
export const readFile = unavailable<typeof fsPromises.readFile>('readFile');
export const basename = unavailable<typeof path.basename>('basename');
export const dirname = unavailable<typeof path.dirname>('dirname');
export const join = unavailable<typeof path.join>('join');
/** No inflate in a page (a deflated zip entry is refused with this error); no crc32, so zip.ts uses its own table. */
export const zlib = { inflateRawSync: unavailable<typeof nodeZlib.inflateRawSync>('inflateRawSync (a deflated zip entry)') };
