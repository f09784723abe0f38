// A small read-only ZIP reader for PyTorch archives: central directory (with ZIP64), stored and
// deflated entries, CRC-32 checked. Entries are read on demand, so a multi-gigabyte checkpoint on
// disk is never loaded whole. Anything unusual (encryption, other compression methods, multi-disk
// archives, duplicate names, entries outside the file) is refused with a message naming the file.
import { closeSync, fstatSync, openSync, readSync, zlib } from '#host';

/** Random access to the archive bytes: a buffer in memory or a file read with positioned reads. */
interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: (offset, length) => bytes.subarray(offset, offset + length), close() {} };
}

function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = Buffer.allocUnsafe(length);
      for (let done = 0; done < length; ) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${offset + done}`);
        done += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

let crcTable: Int32Array | undefined;
function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

function u64(view: DataView, at: number, fail: (p: string) => never): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`ZIP64 field ${value} is too large`);
  return Number(value);
}

/** An open ZIP archive. Call `close()` when done (it holds a file descriptor when opened from a path). */
export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly source: ByteSource;
  readonly label: string;

  private constructor(source: ByteSource, label: string) {
    this.source = source;
    this.label = label;
    try {
      this.readCentralDirectory();
    } catch (err) {
      source.close();
      throw err;
    }
  }

  /** Opens an archive from a path (read lazily) or from bytes in memory. */
  static open(source: string | Uint8Array, label?: string): ZipArchive {
    if (typeof source === 'string') return new ZipArchive(fileSource(source), label ?? source);
    return new ZipArchive(bufferSource(source), label ?? '<buffer>');
  }

  private fail(problem: string): never {
    throw new Error(`${this.label}: ${problem}`);
  }

  private readCentralDirectory(): void {
    const fail = (p: string) => this.fail(p);
    const size = this.source.size;
    if (size < 22) fail(`not a zip archive (${size} bytes, too short)`);
    // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = this.source.read(size - tailLength, tailLength);
    const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tailView.getUint32(i, true) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) fail('not a zip archive (no end-of-central-directory record; legacy non-zip torch.save files are not supported)');
    const disk = tailView.getUint16(eocd + 4, true);
    const cdDisk = tailView.getUint16(eocd + 6, true);
    let count = tailView.getUint16(eocd + 10, true);
    let cdSize = tailView.getUint32(eocd + 12, true);
    let cdOffset = tailView.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locatorAt = size - tailLength + eocd - 20;
      if (locatorAt < 0) fail('ZIP64 locator missing');
      const locator = this.source.read(locatorAt, 20);
      const lv = new DataView(locator.buffer, locator.byteOffset, 20);
      if (lv.getUint32(0, true) !== ZIP64_LOCATOR_SIGNATURE) fail('ZIP64 locator missing');
      const recordAt = u64(lv, 8, fail);
      if (recordAt + 56 > size) fail(`ZIP64 end record at ${recordAt} lies outside the file`);
      const record = this.source.read(recordAt, 56);
      const rv = new DataView(record.buffer, record.byteOffset, 56);
      if (rv.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) fail('ZIP64 end record has a bad signature');
      count = u64(rv, 32, fail);
      cdSize = u64(rv, 40, fail);
      cdOffset = u64(rv, 48, fail);
    } else if (disk !== 0 || cdDisk !== 0) {
      fail('multi-disk zip archives are not supported');
    }
    if (cdOffset + cdSize > size) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) lies outside the file (${size} bytes)`);

    const cd = this.source.read(cdOffset, cdSize);
    const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > cdSize || view.getUint32(at, true) !== CENTRAL_SIGNATURE) fail(`central directory entry ${i} is damaged`);
      const flags = view.getUint16(at + 8, true);
      const method = view.getUint16(at + 10, true);
      const crc = view.getUint32(at + 16, true);
      let compressedSize = view.getUint32(at + 20, true);
      let uncompressedSize = view.getUint32(at + 24, true);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      let localHeaderOffset = view.getUint32(at + 42, true);
      const end = at + 46 + nameLength + extraLength + commentLength;
      if (end > cdSize) fail(`central directory entry ${i} runs past the directory`);
      let name: string;
      try {
        name = utf8.decode(cd.subarray(at + 46, at + 46 + nameLength));
      } catch {
        return fail(`central directory entry ${i} has a name that is not UTF-8`);
      }
      // ZIP64 extra field: 64-bit values for exactly the fields saturated at 0xffffffff, in this order.
      for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength; ) {
        const id = view.getUint16(e, true);
        const length = view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let p = e + 4;
          const take = () => {
            if (p + 8 > e + 4 + length) fail(`entry "${name}": ZIP64 extra field is too short`);
            const v = u64(view, p, fail);
            p += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        e += 4 + length;
      }
      if (flags & 0x1) fail(`entry "${name}" is encrypted`);
      if (this.entries.has(name)) fail(`entry "${name}" appears twice`);
      this.entries.set(name, { name, method, compressedSize, size: uncompressedSize, crc32: crc, localHeaderOffset });
      at = end;
    }
  }

  /** Names of all entries, in directory order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The uncompressed bytes of an entry, CRC-checked. `maxSize` guards against decompression bombs. */
  read(name: string, maxSize = Number.MAX_SAFE_INTEGER): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) return this.fail(`entry "${name}" is missing`);
    if (entry.size > maxSize) this.fail(`entry "${name}" is ${entry.size} bytes, more than the ${maxSize} allowed`);
    const size = this.source.size;
    if (entry.localHeaderOffset + 30 > size) this.fail(`entry "${name}": local header lies outside the file`);
    const header = this.source.read(entry.localHeaderOffset, 30);
    const hv = new DataView(header.buffer, header.byteOffset, 30);
    if (hv.getUint32(0, true) !== LOCAL_SIGNATURE) this.fail(`entry "${name}": local header has a bad signature`);
    const dataStart = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    if (dataStart + entry.compressedSize > size) {
      this.fail(`entry "${name}": data [${dataStart}, ${dataStart + entry.compressedSize}) runs past the end of the file (${size} bytes)`);
    }
    const raw = this.source.read(dataStart, entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) this.fail(`entry "${name}": stored entry sizes differ (${entry.compressedSize} vs ${entry.size})`);
      data = raw;
    } else if (entry.method === 8) {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (err) {
        return this.fail(`entry "${name}": cannot inflate (${(err as Error).message})`);
      }
      if (data.byteLength !== entry.size) this.fail(`entry "${name}": inflated to ${data.byteLength} bytes, expected ${entry.size}`);
    } else {
      return this.fail(`entry "${name}": compression method ${entry.method} is not supported (only stored and deflate)`);
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) this.fail(`entry "${name}": CRC-32 mismatch (data is corrupt)`);
    return data;
  }

  close(): void {
    this.source.close();
  }
}
