import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseSafetensorsHeader,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from '@sd/io';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file from a header (object or raw JSON text) and data bytes, built by hand. */
function buildFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

const u16Bytes = (values: number[]) => new Uint8Array(new Uint16Array(values).buffer);

describe('safetensors', () => {
  it('round-trips F32 and I32 tensors and metadata through a file, atomically', () => {
    const path = join(dir, 'model.safetensors');
    const w = new Float32Array([1.5, -2, 3.25, 0, 1e-30, -7e20]);
    const tensors = new Map([
      ['layer.weight', { shape: [2, 3], data: w }],
      ['layer.bias', { shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) }],
      ['step', { shape: [], data: new Int32Array([42]) }],
      ['ids', { shape: [2, 2], data: new Int32Array([-2147483648, 2147483647, 0, -1]) }],
      ['empty', { shape: [0, 5], data: new Float32Array(0) }],
      ['__proto__', { shape: [1], data: new Float32Array([9]) }],
    ]);
    writeFileSync(path, 'old contents');
    writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode ✓' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']); // no temporary file left behind
    const file = readSafetensors(path);
    expect(file.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect(file.uncoveredBytes).toBe(0);
    expect([...file.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const got = file.tensors.get(name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.dtype).toBe(t.data instanceof Float32Array ? 'F32' : 'I32');
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
    }
    // The data section starts 8-byte aligned, and a subarray view serializes only its own elements.
    const bytes = readFileSync(path);
    expect(Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)) % 8).toBe(0);
    const big = new Float32Array([0, 1, 2, 3, 4, 5]);
    const view = readSafetensors(serializeSafetensors({ v: { shape: [2], data: big.subarray(2, 4) } }));
    expect(Array.from(view.tensors.get('v')!.data)).toEqual([2, 3]);
  });

  it('reads F16 and BF16 exactly, including extremes, subnormals, infinities and NaN', () => {
    const f16 = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555];
    const f16Expected = [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity, NaN, -0, 0.333251953125];
    const bf16 = [0x3f80, 0xc020, 0x7f7f, 0x0001, 0x0080, 0x7f80, 0xff80, 0x7fc0, 0x8000];
    const bf16Expected = [1, -2.5, 3.3895313892515355e38, 2 ** -133, 2 ** -126, Infinity, -Infinity, NaN, -0];
    const data = new Uint8Array([...u16Bytes(f16), ...u16Bytes(bf16)]);
    const file = buildFile(
      {
        __metadata__: { source: 'hand-built' },
        h: { dtype: 'F16', shape: [f16.length], data_offsets: [0, 2 * f16.length] },
        b: { dtype: 'BF16', shape: [3, 3], data_offsets: [2 * f16.length, data.byteLength] },
      },
      data,
    );
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ source: 'hand-built' });
    const h = tensors.get('h')!;
    expect(h.dtype).toBe('F16');
    expect(h.data).toBeInstanceOf(Float32Array);
    expect(Array.from(h.data)).toEqual(f16Expected);
    const b = tensors.get('b')!;
    expect(b.shape).toEqual([3, 3]);
    expect(Array.from(b.data)).toEqual(bf16Expected.map((v) => Math.fround(v)));
  });

  it('reads integer and F64 tensors at unaligned offsets, narrowing I64 when it fits', () => {
    const i64 = new BigInt64Array([-1n, 2147483647n, -2147483648n, 5n]);
    const f64 = new Float64Array([0.1, -1e300, 2.5]);
    const data = new Uint8Array(3 + 32 + 24 + 4);
    data.set([7, 0, 1], 0); // BOOL-free U8 at [0, 3) pushes everything else off alignment
    data.set(new Uint8Array(i64.buffer), 3);
    data.set(new Uint8Array(f64.buffer), 35);
    data.set(new Uint8Array(new Uint32Array([123456]).buffer), 59);
    const file = buildFile(
      {
        u8: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
        i64: { dtype: 'I64', shape: [2, 2], data_offsets: [3, 35] },
        f64: { dtype: 'F64', shape: [3], data_offsets: [35, 59] },
        u32: { dtype: 'U32', shape: [1], data_offsets: [59, 63] },
      },
      data,
    );
    const { tensors } = readSafetensors(file);
    expect(Array.from(tensors.get('u8')!.data)).toEqual([7, 0, 1]);
    expect(tensors.get('i64')!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(tensors.get('i64')!.data)).toEqual([-1, 2147483647, -2147483648, 5]);
    expect(Array.from(tensors.get('f64')!.data)).toEqual([Math.fround(0.1), -Infinity, 2.5]);
    expect(Array.from(tensors.get('u32')!.data)).toEqual([123456]);
  });

  it('reports data-section bytes that no tensor covers', () => {
    const file = buildFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(12));
    expect(parseSafetensorsHeader(file).uncoveredBytes).toBe(8);
    expect(readSafetensors(file).uncoveredBytes).toBe(8);
  });

  const w = { dtype: 'F32', shape: [3, 4], data_offsets: [0, 48] };
  const corruptions: [string, Uint8Array, RegExp][] = [
    ['a file shorter than the length field', new Uint8Array(5), /file is 5 bytes, too short for the 8-byte header length/],
    ['a header length past the end of the file', buildFile({ w }, new Uint8Array(48), 1000n), /header length 1000 runs past the end of the file \(113 bytes, 105 after the length\)/],
    ['an absurd header length', buildFile({}, new Uint8Array(0), 1n << 40n), /header length 1099511627776 exceeds the 100000000-byte limit/],
    ['a header that is not UTF-8', (() => { const f = buildFile('{"a":1}'); f[10] = 0xff; return f; })(), /header is not valid UTF-8/],
    ['a header that is not JSON', buildFile('{"w": {"dtype": "F32",'), /header is not valid JSON/],
    ['a header that is an array', buildFile([1, 2]), /header must be a JSON object, found an array/],
    ['an entry that is not an object', buildFile({ w: 3 }), /tensor "w": entry must be an object, found number/],
    ['an unknown dtype', buildFile({ w: { ...w, dtype: 'F17' } }, new Uint8Array(48)), /tensor "w": unknown dtype "F17"/],
    ['a missing dtype', buildFile({ w: { shape: [3, 4], data_offsets: [0, 48] } }, new Uint8Array(48)), /tensor "w": unknown dtype undefined/],
    ['a shape that is not an array', buildFile({ w: { ...w, shape: '3x4' } }, new Uint8Array(48)), /tensor "w": shape must be an array, found string "3x4"/],
    ['a negative dimension', buildFile({ w: { ...w, shape: [3, -4] } }, new Uint8Array(48)), /tensor "w": shape \[3,-4\] must hold non-negative integers/],
    ['a fractional dimension', buildFile({ w: { ...w, shape: [3, 4.5] } }, new Uint8Array(48)), /tensor "w": shape \[3,4.5\] must hold non-negative integers/],
    ['malformed data_offsets', buildFile({ w: { ...w, data_offsets: [0, 24, 48] } }, new Uint8Array(48)), /tensor "w": data_offsets must be two non-negative integers, found \[0,24,48\]/],
    ['negative data_offsets', buildFile({ w: { ...w, data_offsets: [-8, 40] } }, new Uint8Array(48)), /tensor "w": data_offsets must be two non-negative integers, found \[-8,40\]/],
    ['data_offsets that end before they begin', buildFile({ w: { ...w, data_offsets: [48, 0] } }, new Uint8Array(48)), /tensor "w": data_offsets \[48, 0\] end before they begin/],
    ['a span that does not match the shape', buildFile({ w: { ...w, data_offsets: [0, 40] } }, new Uint8Array(48)), /^model\.safetensors: tensor "w": data_offsets \[0, 40\] span 40 bytes but F32 shape \[3, 4\] needs 48$/],
    ['offsets past the data section', buildFile({ w: { ...w, data_offsets: [8, 56] } }, new Uint8Array(48)), /tensor "w": data_offsets \[8, 56\] run past the data section \(48 bytes\)/],
    [
      'overlapping tensors',
      buildFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] } }, new Uint8Array(20)),
      /tensors "a" \[0, 16\] and "b" \[12, 20\] overlap/,
    ],
    ['metadata that is not an object', buildFile({ __metadata__: ['x'] }), /__metadata__ must be an object of strings, found an array/],
    ['metadata with a non-string value', buildFile({ __metadata__: { epoch: 3 } }), /__metadata__ must map strings to strings, but key "epoch" holds number/],
    [
      'an I64 value that does not fit in int32',
      buildFile({ n: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(new BigInt64Array([1n, 5000000000n]).buffer)),
      /tensor "n": I64 value 5000000000 at index 1 does not fit in int32/,
    ],
    [
      'a U64 value that does not fit in int32',
      buildFile({ n: { dtype: 'U64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(new BigUint64Array([2147483648n]).buffer)),
      /tensor "n": U64 value 2147483648 at index 0 does not fit in int32/,
    ],
    ['an unsupported float8 tensor', buildFile({ q: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), /tensor "q": dtype F8_E4M3 is not supported for reading/],
  ];

  it.each(corruptions)('rejects %s with its own message', (_what, bytes, message) => {
    expect(() => readSafetensors(bytes, { label: 'model.safetensors' })).toThrow(message);
  });

  it('gives every corruption a distinct message that names the file', () => {
    const messages = corruptions.map(([, bytes]) => {
      try {
        readSafetensors(bytes, { label: 'model.safetensors' });
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(messages.every((m) => m.startsWith('model.safetensors: '))).toBe(true);
    expect(new Set(messages).size).toBe(messages.length);
  });

  it('names the path when reading a corrupt file from disk', () => {
    const path = join(dir, 'broken.safetensors');
    writeFileSync(path, buildFile({ w: { ...w, data_offsets: [0, 40] } }, new Uint8Array(48)));
    expect(() => readSafetensors(path)).toThrow(`${path}: tensor "w": data_offsets [0, 40] span 40 bytes but F32 shape [3, 4] needs 48`);
  });

  it('validates tensors before writing and leaves the old file untouched on error', () => {
    const path = join(dir, 'keep.safetensors');
    writeSafetensors(path, { a: { shape: [1], data: new Float32Array([1]) } });
    const before = readFileSync(path);
    expect(() => writeSafetensors(path, { a: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(
      /tensor "a": shape \[2, 2\] has 4 elements but data has 3/,
    );
    expect(() => writeSafetensors(path, { '': { shape: [1], data: new Float32Array(1) } })).toThrow(/invalid tensor name/);
    expect(() => writeSafetensors(path, { a: { shape: [1], data: new Float64Array(1) as unknown as Float32Array } })).toThrow(/Float32Array or Int32Array/);
    expect(() => writeSafetensors(path, {}, { n: 1 as unknown as string })).toThrow(/metadata key "n" holds number/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('F16 output', () => {
  it('rounds to nearest even and round-trips next to F32 tensors of odd sizes', () => {
    const values = Float32Array.from([0, -0, 1, -2.5, 65504, 70000, 1e-8, 6.1e-5, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, NaN, Infinity, 0.1]);
    const bytes = serializeSafetensors({ a: { shape: [values.length - 1], data: values.slice(1), dtype: 'F16' }, b: { shape: [3], data: Float32Array.from([1, 2, 3]) } });
    const file = readSafetensors(bytes);
    const a = Array.from(file.tensors.get('a')!.data);
    expect(file.tensors.get('a')!.dtype).toBe('F16');
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([1, 2, 3]);
    // -0, 1, -2.5, 65504 exact; 70000 overflows; 1e-8 flushes to 0; 6.1e-5 subnormal-ish; 2^-24 smallest subnormal;
    // 1+2^-11 is a tie → even (1); 1+3·2^-11 is a tie → even (1+2^-9); NaN; Infinity; 0.1 → 0.0999755859375.
    expect(a.slice(0, 4)).toEqual([-0, 1, -2.5, 65504]);
    expect(a[4]).toBe(Infinity);
    expect(a[5]).toBe(0);
    expect(Math.abs(a[6] - 6.1e-5)).toBeLessThan(2 ** -24);
    expect(a[7]).toBe(2 ** -24);
    expect(a[8]).toBe(1);
    expect(a[9]).toBe(1 + 2 ** -9);
    expect(a[10]).toBeNaN();
    expect(a[11]).toBe(Infinity);
    expect(a[12]).toBe(0.0999755859375);
  });
});
