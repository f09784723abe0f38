// Hand-assembles pickles and stored-entry ZIP archives for loader tests (crafted, possibly hostile input).

const enc = new TextEncoder();

function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Opcode helpers: each returns the bytes of one opcode (and its argument). */
export const op = {
  proto: (v = 2) => [0x80, v],
  stop: () => [0x2e],
  mark: () => [0x28],
  none: () => [0x4e],
  str: (s: string) => {
    const b = enc.encode(s);
    return [0x58, ...u32le(b.length), ...b];
  },
  int: (n: number) => (n >= 0 && n < 256 ? [0x4b, n] : [0x4a, ...u32le(n)]),
  global: (module: string, name: string) => [0x63, ...enc.encode(`${module}\n${name}\n`)],
  tuple: () => [0x74],
  emptyTuple: () => [0x29],
  emptyDict: () => [0x7d],
  setitems: () => [0x75],
  reduce: () => [0x52],
  binpersid: () => [0x51],
  newfalse: () => [0x89],
  raw: (...bytes: number[]) => bytes,
};

export function pickle(...parts: number[][]): Uint8Array {
  return new Uint8Array(parts.flat());
}

/** The pickle of `{name: _rebuild_tensor_v2(storage('0', type, numel), offset, size, stride, False, OrderedDict())}`. */
export function tensorDictPickle(name: string, storageType: string, numel: number, offset: number, size: number[], stride: number[]): Uint8Array {
  const tuple = (items: number[]) => [...op.mark(), ...items.flatMap((n) => op.int(n)), ...op.tuple()];
  return pickle(
    op.proto(),
    op.emptyDict(),
    op.mark(),
    op.str(name),
    op.global('torch._utils', '_rebuild_tensor_v2'),
    op.mark(),
    op.mark(), op.str('storage'), op.global('torch', storageType), op.str('0'), op.str('cpu'), op.int(numel), op.tuple(),
    op.binpersid(),
    op.int(offset),
    tuple(size),
    tuple(stride),
    op.newfalse(),
    op.global('collections', 'OrderedDict'), op.emptyTuple(), op.reduce(),
    op.tuple(),
    op.reduce(),
    op.setitems(),
    op.stop(),
  );
}

let table: Int32Array | undefined;
function crc32(data: Uint8Array): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = -1;
  for (const b of data) crc = table[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** A ZIP archive of stored (uncompressed) entries, like the ones PyTorch writes. */
export function storedZip(entries: [string, Uint8Array][]): Uint8Array {
  const local: number[] = [];
  const central: number[] = [];
  for (const [name, data] of entries) {
    const nameBytes = [...enc.encode(name)];
    const crc = crc32(data);
    const common = [0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u32le(crc), ...u32le(data.length), ...u32le(data.length), nameBytes.length & 0xff, nameBytes.length >> 8, 0, 0];
    const offset = local.length;
    local.push(...u32le(0x04034b50), ...common, ...nameBytes, ...data);
    central.push(...u32le(0x02014b50), 0x14, 0, ...common, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u32le(offset), ...nameBytes);
  }
  const n = entries.length;
  const eocd = [...u32le(0x06054b50), 0, 0, 0, 0, n & 0xff, n >> 8, n & 0xff, n >> 8, ...u32le(central.length), ...u32le(local.length), 0, 0];
  return new Uint8Array([...local, ...central, ...eocd]);
}
