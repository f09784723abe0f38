import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTorchCheckpoint, readTorchStateDict, unpickle, ZipArchive } from '@sd/io';
import { op, pickle, storedZip, tensorDictPickle } from '../util/pickle-builder.ts';

// Fixtures written by test/fixtures/gen_torch_fixtures.py with PyTorch 1.13 (see expected.json).
const fixtureDir = new URL('../fixtures/torch/', import.meta.url);
const fixturePath = (name: string) => new URL(name, fixtureDir).pathname;
interface Expected {
  dtype: string;
  shape: number[];
  stride: number[];
  storage_offset: number;
  values: number[];
}
const expected = JSON.parse(readFileSync(fixturePath('expected.json'), 'utf8')) as {
  state_dict: Record<string, Expected>;
  nested: Record<string, Expected>;
};

const scratch = mkdtempSync(join(tmpdir(), 'torch-pickle-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function expectMatches(tensors: Map<string, ReturnType<typeof readTorchStateDict> extends Map<string, infer T> ? T : never>, want: Record<string, Expected>) {
  expect([...tensors.keys()]).toEqual(Object.keys(want)); // same names, same order as state_dict()
  for (const [name, e] of Object.entries(want)) {
    const t = tensors.get(name)!;
    expect(t.dtype, name).toBe(e.dtype);
    expect(t.shape, name).toEqual(e.shape);
    expect(t.stride, name).toEqual(e.stride);
    expect(t.storageOffset, name).toBe(e.storage_offset);
    expect(t.data.constructor, name).toBe(e.dtype.startsWith('int') || e.dtype === 'bool' ? Int32Array : Float32Array);
    expect(Array.from(t.data), name).toEqual(e.values);
  }
}

/** A one-tensor checkpoint archive with a hand-made pickle and storage. */
function craftedCheckpoint(pkl: Uint8Array, storage?: Uint8Array): Uint8Array {
  const entries: [string, Uint8Array][] = [['ckpt/data.pkl', pkl], ['ckpt/version', new TextEncoder().encode('3\n')]];
  if (storage) entries.push(['ckpt/data/0', storage]);
  return storedZip(entries);
}

describe('PyTorch checkpoint reader', () => {
  it('reads torch.save(state_dict) with every dtype, strides and storage offsets', () => {
    const checkpoint = readTorchCheckpoint(fixturePath('state_dict.pt'));
    expect(checkpoint.format).toBe('pickle');
    expectMatches(checkpoint.tensors, expected.state_dict);
    // The transposed parameter comes back row-major: proj[i][j] = base[j][i].
    const proj = checkpoint.tensors.get('proj')!;
    expect(proj.stride).toEqual([1, 4]);
    expect(proj.shape).toEqual([4, 3]);
    expect(checkpoint.tensors.get('window')!.storageOffset).toBe(7);
  });

  it('reads a scripted TorchScript archive into state_dict() names, keeping only parameters and buffers', () => {
    const checkpoint = readTorchCheckpoint(fixturePath('scripted.pt'));
    expect(checkpoint.format).toBe('torchscript');
    expectMatches(checkpoint.tensors, expected.state_dict);
  });

  it('reads a traced TorchScript archive (mangled class names) the same way', () => {
    const bytes = readFileSync(fixturePath('traced.pt'));
    const checkpoint = readTorchCheckpoint(bytes, { label: 'traced.pt' });
    expect(checkpoint.format).toBe('torchscript');
    expectMatches(checkpoint.tensors, expected.state_dict);
  });

  it('without class declarations, falls back to every tensor attribute (then non-buffer attributes appear)', () => {
    const archive = ZipArchive.open(fixturePath('scripted.pt'));
    const kept: [string, Uint8Array][] = archive.names().filter((n) => !n.includes('/code/')).map((n) => [n, new Uint8Array(archive.read(n))]);
    archive.close();
    const tensors = readTorchStateDict(storedZip(kept));
    const names = [...tensors.keys()];
    expect(names).toEqual(expect.arrayContaining(Object.keys(expected.state_dict)));
    expect(names.filter((n) => !(n in expected.state_dict))).toEqual(['blocks.0.mask', 'blocks.1.mask']);
    expect(Array.from(tensors.get('blocks.1.mask')!.data)).toEqual([0.5, 0.5]);
  });

  it('flattens nested training checkpoints (dicts, lists, int keys) and skips non-tensors', () => {
    expectMatches(readTorchStateDict(fixturePath('nested.pt')), expected.nested);
  });

  it('refuses a pickled nn.Module (torch.save(model)) and names the class', () => {
    expect(() => readTorchCheckpoint(fixturePath('whole_module.pt'))).toThrow(
      /whole_module\.pt: whole_module\/data\.pkl: refusing to load __main__\.Tiny: only tensor state dicts and TorchScript archives are supported/,
    );
  });

  it('refuses GLOBAL os.system + REDUCE without executing anything', () => {
    const marker = join(scratch, 'pwned');
    const hostile = pickle(op.proto(), op.global('os', 'system'), op.str(`touch ${marker}`), op.raw(0x85), op.reduce(), op.stop());
    expect(() => readTorchCheckpoint(craftedCheckpoint(hostile), { label: 'evil.pt' })).toThrow(
      'evil.pt: ckpt/data.pkl: refusing to load os.system: only tensor state dicts and TorchScript archives are supported',
    );
    const viaBuiltins = pickle(op.proto(), op.global('builtins', 'eval'), op.str('1+1'), op.raw(0x85), op.reduce(), op.stop());
    expect(() => readTorchCheckpoint(craftedCheckpoint(viaBuiltins))).toThrow(/refusing to load builtins\.eval/);
    const torchModule = pickle(op.proto(), op.global('torch.nn', 'Module'), op.emptyTuple(), op.reduce(), op.stop());
    expect(() => readTorchCheckpoint(craftedCheckpoint(torchModule))).toThrow(/refusing to load torch\.nn\.Module/);
    // STACK_GLOBAL goes through the same allowlist.
    const stackGlobal = pickle(op.proto(4), op.raw(0x8c, 2, ...new TextEncoder().encode('os')), op.raw(0x8c, 6, ...new TextEncoder().encode('system')), op.raw(0x93), op.stop());
    expect(() => readTorchCheckpoint(craftedCheckpoint(stackGlobal))).toThrow(/refusing to load os\.system/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses opcodes outside the supported set, naming them', () => {
    const inst = pickle(op.proto(), op.mark(), op.raw(0x69, ...new TextEncoder().encode('os\nsystem\n')), op.stop());
    expect(() => readTorchCheckpoint(craftedCheckpoint(inst))).toThrow(/unsupported pickle opcode \(opcode INST at byte 3\)/);
    const ext = pickle(op.proto(), op.raw(0x82, 1), op.stop());
    expect(() => readTorchCheckpoint(craftedCheckpoint(ext))).toThrow(/opcode EXT1 at byte 2/);
    expect(() => readTorchCheckpoint(craftedCheckpoint(pickle(op.proto(), op.raw(0xff))))).toThrow(/unsupported pickle opcode \(unknown\)/);
  });

  it('rejects malformed pickles with clear errors', () => {
    const check = (bytes: Uint8Array, message: RegExp) => expect(() => readTorchCheckpoint(craftedCheckpoint(bytes))).toThrow(message);
    check(pickle(op.proto(), op.raw(0x58, 10, 0, 0, 0, 0x61)), /truncated pickle: needs 10 more bytes/);
    check(pickle(op.proto(), op.raw(0x68, 7), op.stop()), /memo entry 7 was never stored/);
    check(pickle(op.proto(), op.tuple()), /no MARK on the stack/);
    check(pickle(op.proto(), op.stop()), /stack underflow|ended with 0 values/);
    check(pickle(op.proto(), op.int(1), op.int(2), op.stop()), /pickle ended with 2 values on the stack/);
    check(pickle(op.proto(), op.int(5), op.stop()), /data\.pkl holds number, not tensors/);
    check(pickle(op.proto(), op.raw(0x58, 2, 0, 0, 0, 0xc3, 0x28), op.stop()), /string is not valid UTF-8/);
  });

  it('checks storages and tensor geometry against each other', () => {
    const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
    // A valid crafted tensor first: 2x3 view with stride (1, 2) over 6 floats, offset 0.
    const ok = readTorchStateDict(craftedCheckpoint(tensorDictPickle('w', 'FloatStorage', 6, 0, [2, 3], [1, 2]), f32([0, 1, 2, 3, 4, 5])));
    expect(Array.from(ok.get('w')!.data)).toEqual([0, 2, 4, 1, 3, 5]);

    const read = (pkl: Uint8Array, storage?: Uint8Array) => () => readTorchStateDict(craftedCheckpoint(pkl, storage), { label: 'c.pt' });
    expect(read(tensorDictPickle('w', 'FloatStorage', 6, 1, [2, 3], [3, 1]), f32([0, 1, 2, 3, 4, 5]))).toThrow(
      'c.pt: tensor "w": shape [2, 3] with stride [3, 1] at offset 1 reaches element 6, but storage "0" holds 6 float32 elements',
    );
    expect(read(tensorDictPickle('w', 'FloatStorage', 6, 0, [6], [1]), f32([0, 1, 2]))).toThrow(
      'c.pt: storage "0" is 12 bytes but holds 6 float32 elements (24 bytes)',
    );
    expect(read(tensorDictPickle('w', 'FloatStorage', 6, 0, [6], [1]))).toThrow('c.pt: storage "0" is missing (no ckpt/data/0 entry)');
    expect(read(tensorDictPickle('w', 'ComplexFloatStorage', 6, 0, [6], [1]), f32([0]))).toThrow(/refusing to load torch\.ComplexFloatStorage/);
    const big = new Uint8Array(new BigInt64Array([1n, 1n << 40n]).buffer);
    expect(read(tensorDictPickle('n', 'LongStorage', 2, 0, [2], [1]), big)).toThrow('c.pt: tensor "n": int64 value 1099511627776 at index 1 does not fit in int32');
  });

  it('rejects damaged archives with clear errors', () => {
    expect(() => readTorchCheckpoint(new TextEncoder().encode('definitely not a zip file, just some text'), { label: 'x.pt' })).toThrow(
      /x\.pt: not a zip archive \(no end-of-central-directory record/,
    );
    expect(() => readTorchCheckpoint(new Uint8Array(10), { label: 'x.pt' })).toThrow('x.pt: not a zip archive (10 bytes, too short)');
    expect(() => readTorchCheckpoint(storedZip([['a.txt', new Uint8Array(3)]]), { label: 'x.pt' })).toThrow(/not a PyTorch zip checkpoint \(no <archive>\/data\.pkl entry; found a\.txt\)/);
    // Flip one byte inside a storage: the CRC check catches it.
    const bytes = new Uint8Array(readFileSync(fixturePath('state_dict.pt')));
    const archive = ZipArchive.open(bytes);
    const entry = archive.entries.get('state_dict/data/6')!;
    const localNameLength = new DataView(bytes.buffer).getUint16(entry.localHeaderOffset + 26, true);
    const localExtraLength = new DataView(bytes.buffer).getUint16(entry.localHeaderOffset + 28, true);
    bytes[entry.localHeaderOffset + 30 + localNameLength + localExtraLength + 5]! ^= 0xff;
    expect(() => readTorchCheckpoint(bytes, { label: 'flipped.pt' })).toThrow('flipped.pt: entry "state_dict/data/6": CRC-32 mismatch (data is corrupt)');
    // Cut off the end: the central directory is gone.
    expect(() => readTorchCheckpoint(bytes.subarray(0, bytes.length - 30), { label: 'cut.pt' })).toThrow(/cut\.pt: not a zip archive/);
  });

  it('unpickles plain data: ints of every width, floats, strings, tuples, lists, dicts', () => {
    const value = unpickle(
      pickle(
        op.proto(),
        op.emptyDict(),
        op.mark(),
        op.str('small'), op.int(7),
        op.str('neg'), op.raw(0x4a, 0xfe, 0xff, 0xff, 0xff),
        op.str('big'), op.raw(0x8a, 6, 0, 0, 0, 0, 0, 1), // LONG1 2**40
        op.str('huge'), op.raw(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1), // LONG1 2**64
        op.str('f'), op.raw(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), // BINFLOAT 1.5
        op.str('t'), op.int(1), op.int(2), op.raw(0x86), // TUPLE2
        op.str('l'), op.raw(0x5d), op.mark(), op.none(), op.raw(0x88), op.raw(0x65), // [None, True]
        op.setitems(),
        op.stop(),
      ),
      { label: 'plain', findGlobal: () => { throw new Error('no globals'); } },
    ) as Map<string, unknown>;
    expect(Object.fromEntries(value)).toEqual({ small: 7, neg: -2, big: 2 ** 40, huge: 2n ** 64n, f: 1.5, t: [1, 2], l: [null, true] });
  });
});
