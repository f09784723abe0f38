// NumPy .npy files (format 1.0/2.0/3.0): float32/float16/float64/int32 2-D arrays, read and written.
import { readFileSync } from '#host';
import { writeFileAtomic } from './atomic-file.ts';
import { halfBitsToFloat } from './half.ts';

export interface NpyArray {
  shape: number[];
  /** Values converted to float32 (row-major). */
  data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses a .npy file; every problem names the file. */
export function parseNpy(bytes: Uint8Array, file = '<buffer>'): NpyArray {
  const fail = (why: string): never => {
    throw new Error(`${file}: not a readable .npy file: ${why}`);
  };
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) fail('missing the \\x93NUMPY magic');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  if (headerStart + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the file (${bytes.length} bytes)`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? fail(`no 'descr' in header ${header.trim()}`);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1] ?? fail('no fortran_order in header');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail('no shape in header');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`invalid shape (${shapeText})`);
  if (fortran === 'True' && shape.length > 1) fail('Fortran-ordered arrays are not supported');
  const count = shape.reduce((a, b) => a * b, 1);
  const little = descr[0] === '<' || descr[0] === '|' || descr[0] === '=';
  if (!little) fail(`big-endian dtype ${descr} is not supported`);
  const kind = descr.slice(1);
  const size = { f4: 4, f2: 2, f8: 8, i4: 4, i8: 8 }[kind] ?? fail(`unsupported dtype ${descr} (float16/32/64 and int32/64 are)`);
  const start = headerStart + headerLen;
  if (bytes.length - start !== count * size) fail(`data is ${bytes.length - start} bytes but shape (${shape.join(', ')}) of ${descr} needs ${count * size}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const o = start + i * size;
    data[i] =
      kind === 'f4' ? view.getFloat32(o, true)
      : kind === 'f2' ? halfBitsToFloat(view.getUint16(o, true))
      : kind === 'f8' ? view.getFloat64(o, true)
      : kind === 'i4' ? view.getInt32(o, true)
      : Number(view.getBigInt64(o, true));
  }
  return { shape, data };
}

export function readNpy(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  return parseNpy(bytes, file);
}

/** Serialises a float32 array as .npy version 1.0. */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: ${data.length} values do not fill shape (${shape.join(', ')})`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Writes a .npy file atomically (see writeFileAtomic). */
export function writeNpy(file: string, data: Float32Array, shape: number[]): void {
  writeFileAtomic(file, [encodeNpy(data, shape)]);
}
