// The safetensors format (https://github.com/huggingface/safetensors), on host typed arrays:
//   u64 little-endian N | N bytes of JSON header | data section
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the
// data section) plus an optional "__metadata__" string→string map. Everything in the header is
// checked before any byte of data is trusted; loading is pure parsing and never executes anything.
import { readFileSync } from '#host';
import { writeFileAtomic } from './atomic-file.ts';
import { bfloat16BitsToFloat32, float32ToHalfBits, halfBitsToFloat32 } from './half.ts';

/** Bytes per element of every dtype the format defines. */
const DTYPE_SIZES = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/** One tensor as read: its stored dtype, shape and values widened to f32 (floats) or i32 (integers). */
export interface SafetensorsTensor {
  /** dtype in the file; F16/BF16/F64 arrive as Float32Array, integer types as Int32Array. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A tensor to write: F32 from a Float32Array (or F16 when `dtype` says so), I32 from an Int32Array. */
export interface SafetensorsInput {
  shape: readonly number[];
  data: Float32Array | Int32Array;
  /** Store a Float32Array as F16 (rounded to nearest even) to halve the file. */
  dtype?: 'F32' | 'F16';
}

/** Header entry after validation. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  /** Bytes of the data section not covered by any tensor (0 for files written by the reference library). */
  uncoveredBytes: number;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
  uncoveredBytes: number;
}

/** Refuse absurd headers before allocating for them (the reference implementation uses the same limit). */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `string ${JSON.stringify(value)}` : typeof value;
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own property even for names like "__proto__", which plain assignment would swallow. */
function defineEntry(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Parses and validates the header of a safetensors file held in memory. `label` prefixes every error. */
export function parseSafetensorsHeader(bytes: Uint8Array, label = '<buffer>'): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new Error(`${label}: ${problem}`);
  };
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLength64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(headerLength64);
  if (8 + headerLength > bytes.byteLength) {
    fail(`header length ${headerLength} runs past the end of the file (${bytes.byteLength} bytes, ${bytes.byteLength - 8} after the length)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) return fail(`header must be a JSON object, found ${describe(parsed)}`);

  const metadata: Record<string, string> = {};
  const rawMetadata = parsed['__metadata__'];
  if (rawMetadata !== undefined) {
    if (!isPlainObject(rawMetadata)) fail(`__metadata__ must be an object of strings, found ${describe(rawMetadata)}`);
    for (const [key, value] of Object.entries(rawMetadata as Record<string, unknown>)) {
      if (typeof value !== 'string') fail(`__metadata__ must map strings to strings, but key ${JSON.stringify(key)} holds ${describe(value)}`);
      defineEntry(metadata, key, value as string);
    }
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(parsed)) {
    if (name === '__metadata__') continue;
    entries.push(parseEntry(name, info, dataLength, fail));
  }

  // Spans must not overlap (two names sharing bytes would alias), checked in file order.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < byOffset.length; i++) {
    const cur = byOffset[i]!;
    const prev = byOffset[i - 1];
    if (prev && cur.begin < prev.end) {
      fail(`tensors ${JSON.stringify(prev.name)} [${prev.begin}, ${prev.end}] and ${JSON.stringify(cur.name)} [${cur.begin}, ${cur.end}] overlap`);
    }
    covered += cur.end - cur.begin;
  }
  return { entries, metadata, dataStart, uncoveredBytes: dataLength - covered };
}

function parseEntry(name: string, info: unknown, dataLength: number, fail: (p: string) => never): SafetensorsEntry {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(info)) fail(`${where}: entry must be an object, found ${describe(info)}`);
  const entry = info as Record<string, unknown>;
  const dtype = entry['dtype'];
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`);
  }
  const shape = entry['shape'];
  if (!Array.isArray(shape)) fail(`${where}: shape must be an array, found ${describe(shape)}`);
  for (const dim of shape as unknown[]) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      fail(`${where}: shape ${JSON.stringify(shape)} must hold non-negative integers`);
    }
  }
  const offsets = entry['data_offsets'];
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`${where}: data_offsets must be two non-negative integers, found ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const dims = shape as number[];
  const size = DTYPE_SIZES[dtype as SafetensorsDtype];
  const needed = dims.reduce((a, b) => a * b, 1) * size;
  if (!Number.isSafeInteger(needed)) fail(`${where}: shape ${fmtShape(dims)} is too large`);
  if (end - begin !== needed) {
    fail(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} shape ${fmtShape(dims)} needs ${needed}`);
  }
  if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`);
  return { name, dtype: dtype as SafetensorsDtype, shape: dims, begin, end };
}

/** Copies a tensor's bytes out (the copy is aligned, whatever the offset in the file) and widens them. */
function decodeTensor(bytes: Uint8Array, start: number, entry: SafetensorsEntry, fail: (p: string) => never): Float32Array | Int32Array {
  // A copy, not `slice` (a view on Node Buffers), so the result owns aligned memory.
  const raw = new Uint8Array(bytes.subarray(start + entry.begin, start + entry.end)).buffer;
  const where = `tensor ${JSON.stringify(entry.name)}`;
  switch (entry.dtype) {
    case 'F32': return new Float32Array(raw);
    case 'F16': return halfBitsToFloat32(new Uint16Array(raw));
    case 'BF16': return bfloat16BitsToFloat32(new Uint16Array(raw));
    case 'F64': return Float32Array.from(new Float64Array(raw));
    case 'I32': return new Int32Array(raw);
    case 'I16': return Int32Array.from(new Int16Array(raw));
    case 'U16': return Int32Array.from(new Uint16Array(raw));
    case 'I8': return Int32Array.from(new Int8Array(raw));
    case 'U8': return Int32Array.from(new Uint8Array(raw));
    case 'BOOL': return Int32Array.from(new Uint8Array(raw), (b) => (b ? 1 : 0));
    case 'U32': {
      const words = new Uint32Array(raw);
      const i = words.findIndex((w) => w > 0x7fffffff);
      if (i >= 0) fail(`${where}: U32 value ${words[i]} at index ${i} does not fit in int32`);
      return new Int32Array(raw);
    }
    case 'I64':
    case 'U64': {
      // Keep the low words after checking that each high word is just the sign extension.
      const words = new Int32Array(raw);
      const out = new Int32Array(words.length / 2);
      const signed = entry.dtype === 'I64';
      for (let i = 0; i < out.length; i++) {
        const lo = words[2 * i]!;
        const hi = words[2 * i + 1]!;
        if (hi !== (signed ? lo >> 31 : 0) || (!signed && lo < 0)) {
          const value = signed ? new BigInt64Array(raw)[i] : new BigUint64Array(raw)[i];
          fail(`${where}: ${entry.dtype} value ${value} at index ${i} does not fit in int32`);
        }
        out[i] = lo;
      }
      return out;
    }
    case 'F8_E4M3':
    case 'F8_E5M2':
      return fail(`${where}: dtype ${entry.dtype} is not supported for reading`);
  }
}

function loadBytes(source: string | Uint8Array, label?: string): { bytes: Uint8Array; label: string } {
  if (typeof source === 'string') return { bytes: readFileSync(source), label: label ?? source };
  return { bytes: source, label: label ?? '<buffer>' };
}

/**
 * Reads a safetensors file (path or bytes). Float tensors are returned as Float32Array (F16, BF16
 * exactly; F64 rounded), integer tensors as Int32Array (I64/U64/U32 only if every value fits; else
 * an error). Every structural problem throws an Error naming the file (or `label`) and the problem.
 */
export function readSafetensors(source: string | Uint8Array, options: { label?: string } = {}): SafetensorsFile {
  if (!LITTLE_ENDIAN) throw new Error('readSafetensors: big-endian hosts are not supported');
  const { bytes, label } = loadBytes(source, options.label);
  const header = parseSafetensorsHeader(bytes, label);
  const fail = (problem: string): never => {
    throw new Error(`${label}: ${problem}`);
  };
  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of header.entries) {
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: decodeTensor(bytes, header.dataStart, entry, fail) });
  }
  return { tensors, metadata: header.metadata, uncoveredBytes: header.uncoveredBytes };
}

/** Validates the tensors to write and lays them out: header bytes, then each tensor's bytes in order. */
function layout(tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>, metadata: Record<string, string> | undefined, label: string): Uint8Array[] {
  const fail = (problem: string): never => {
    throw new Error(`writeSafetensors ${label}: ${problem}`);
  };
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  // Sorted by name, like the reference writer for same-width dtypes, so output is deterministic.
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) fail(`metadata must be an object of strings`);
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') fail(`metadata key ${JSON.stringify(key)} holds ${describe(value)}, not a string`);
    }
    defineEntry(header, '__metadata__', metadata);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of list) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (name === '' || name === '__metadata__') fail(`${where}: invalid tensor name`);
    const half = tensor.dtype === 'F16';
    if (half && !(tensor.data instanceof Float32Array)) fail(`${where}: F16 output needs a Float32Array`);
    const dtype = half ? 'F16' : tensor.data instanceof Float32Array ? 'F32' : tensor.data instanceof Int32Array ? 'I32' : fail(`${where}: data must be a Float32Array or Int32Array`);
    for (const dim of tensor.shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) fail(`${where}: shape ${fmtShape(tensor.shape)} must hold non-negative integers`);
    }
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) fail(`${where}: shape ${fmtShape(tensor.shape)} has ${count} elements but data has ${tensor.data.length}`);
    const stored = half ? float32ToHalfBits(tensor.data as Float32Array) : tensor.data;
    defineEntry(header, name, { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + stored.byteLength] });
    offset += stored.byteLength;
    chunks.push(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
  }
  // Pad the JSON with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...chunks];
}

/** The bytes of a safetensors file holding `tensors` (F32/I32) and optional string metadata. */
export function serializeSafetensors(tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('serializeSafetensors: big-endian hosts are not supported');
  const chunks = layout(tensors, metadata, '<buffer>');
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * Writes `tensors` (F32 from Float32Array, I32 from Int32Array) to `path` atomically: a temporary
 * file in the same directory is written, fsynced and renamed over `path`.
 */
export function writeSafetensors(path: string, tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>, metadata?: Record<string, string>): void {
  if (!LITTLE_ENDIAN) throw new Error('writeSafetensors: big-endian hosts are not supported');
  writeFileAtomic(path, layout(tensors, metadata, path));
}
