// Reads tensors out of PyTorch zip checkpoints without Python and without running any of their
// code: `torch.save(state_dict)` files and TorchScript archives (`torch.jit.save`, e.g. OpenAI's
// CLIP .pt files). Layout of both: `<archive>/data.pkl` (a pickle whose tensors refer to storages
// by key), `<archive>/data/<key>` (raw little-endian storage bytes), `<archive>/version`; TorchScript
// adds `<archive>/code/**.py` (class declarations, read here as text only) and `constants.pkl`.
//
// The pickle is read by the restricted machine in pickle.ts with an allowlist of globals: tensor
// and parameter rebuilding, storage types, OrderedDict, a few TorchScript list builders, and
// `__torch__.*` classes, which become inert attribute records. Everything else is refused.
import { bfloat16BitsToFloat32, halfBitsToFloat32 } from './half.ts';
import { describe, PyDict, unpickle, type PickleBuildable, type PickleGlobal } from './pickle.ts';
import { ZipArchive } from './zip.ts';

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** One tensor as read: values in row-major (contiguous) order, widened to f32 or i32. */
export interface TorchTensor {
  /** dtype stored in the checkpoint. Floats arrive as Float32Array (float64 rounded), integers as Int32Array. */
  dtype: TorchDtype;
  shape: number[];
  /** Strides (in elements) of the tensor in the checkpoint; `data` itself is always contiguous. */
  stride: number[];
  /** Offset (in elements) of the tensor in its storage in the checkpoint. */
  storageOffset: number;
  data: Float32Array | Int32Array;
}

export interface TorchCheckpoint {
  /** 'torchscript' when data.pkl holds a scripted/traced module, 'pickle' for torch.save files. */
  format: 'pickle' | 'torchscript';
  /** Flat state dict: names like PyTorch's `state_dict()` (`visual.conv1.weight`), in its order. */
  tensors: Map<string, TorchTensor>;
}

const STORAGE_DTYPES: Record<string, { dtype: TorchDtype; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

/** A storage type named by GLOBAL (`torch.FloatStorage`); only meaningful inside a persistent id. */
class StorageType implements PickleGlobal {
  readonly module = 'torch';
  constructor(readonly name: string, readonly dtype: TorchDtype, readonly bytes: number) {}
  call(): never {
    throw new Error(`torch.${this.name} cannot be called while loading a checkpoint`);
  }
}

const STORAGE_TYPES = new Map(Object.entries(STORAGE_DTYPES).map(([name, { dtype, bytes }]) => [name, new StorageType(name, dtype, bytes)]));

/** A storage in the archive, read when a tensor that uses it is materialized. */
class StorageRef {
  private cached: Uint8Array | undefined;
  constructor(readonly key: string, readonly type: StorageType, readonly numel: number, private readonly load: () => Uint8Array) {}
  bytes(): Uint8Array {
    this.cached ??= this.load();
    return this.cached;
  }
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, ...)`, kept lazy until its name is known. */
class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

/** An instance of a TorchScript class (`__torch__.…`): its attributes, nothing else. */
export class TorchScriptObject implements PickleBuildable {
  attributes = new Map<string, unknown>();
  constructor(readonly className: string) {}
  setState(state: unknown): void {
    if (!(state instanceof PyDict)) throw new Error(`TorchScript object ${this.className} has non-dict state (${describe(state)})`);
    for (const [key, value] of state) this.attributes.set(String(key), value);
  }
}

function pickleGlobal(module: string, name: string, call: (args: unknown[]) => unknown): PickleGlobal {
  return { module, name, call };
}

const intList = (value: unknown, what: string, fail: (p: string) => never): number[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) {
    return fail(`${what} must be a tuple of non-negative integers, found ${JSON.stringify(value)}`);
  }
  return [...value] as number[];
};

/** Reads the `__parameters__` / `__buffers__` declarations of TorchScript classes from code/**.py, as text. */
class TorchScriptDeclarations {
  private readonly files = new Map<string, string | null>();
  constructor(private readonly archive: ZipArchive, private readonly prefix: string) {}

  /** Parameter and buffer names declared by `className`, or undefined if its source is not in the archive. */
  lookup(className: string): { parameters: string[]; buffers: string[] } | undefined {
    const dot = className.lastIndexOf('.');
    const path = `${this.prefix}code/${className.slice(0, dot).replaceAll('.', '/')}.py`;
    if (!this.files.has(path)) {
      this.files.set(path, this.archive.has(path) ? new TextDecoder().decode(this.archive.read(path, 64 << 20)) : null);
    }
    const source = this.files.get(path);
    if (!source) return undefined;
    const name = className.slice(dot + 1);
    const start = source.search(new RegExp(`^class ${name.replace(/[^\w]/g, '\\$&')}\\(`, 'm'));
    if (start < 0) return undefined;
    // The class body runs to the next line that is not indented.
    const bodyStart = source.indexOf('\n', start) + 1 || source.length;
    const next = source.slice(bodyStart).search(/^\S/m);
    const body = source.slice(start, next < 0 ? source.length : bodyStart + next);
    const names = (field: string) => {
      const m = body.match(new RegExp(`^\\s+${field} = \\[([^\\]]*)\\]`, 'm'));
      return m ? [...m[1]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!) : [];
    };
    return { parameters: names('__parameters__'), buffers: names('__buffers__') };
  }
}

function elementsIn(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Copies the tensor's elements (any strides, any storage offset) into contiguous order and widens them. */
function materialize(ref: TensorRef, fail: (p: string) => never): Float32Array | Int32Array {
  const { storage, shape, stride, offset } = ref;
  const { dtype, bytes: width } = storage.type;
  const count = elementsIn(shape);
  if (count > 0) {
    const last = offset + shape.reduce((acc, dim, i) => acc + (dim - 1) * stride[i]!, 0);
    if (last >= storage.numel) {
      fail(`shape [${shape.join(', ')}] with stride [${stride.join(', ')}] at offset ${offset} reaches element ${last}, but storage "${storage.key}" holds ${storage.numel} ${dtype} elements`);
    }
  }
  const raw = storage.bytes();
  // Gather in 1-, 2- or 4-byte words (8-byte elements as two words) so that bit patterns are kept.
  const wordBytes = Math.min(width, 4);
  const wordsPerElement = width / wordBytes;
  // Copy when misaligned (`new Uint8Array(x)` copies; Buffer#slice would not).
  const aligned = raw.byteOffset % wordBytes === 0 ? raw : new Uint8Array(raw);
  const wordCount = Math.floor(aligned.byteLength / wordBytes);
  type Words = Uint8Array | Uint16Array | Uint32Array;
  const source: Words =
    wordBytes === 1 ? aligned : wordBytes === 2 ? new Uint16Array(aligned.buffer, aligned.byteOffset, wordCount) : new Uint32Array(aligned.buffer, aligned.byteOffset, wordCount);
  const gathered: Words = wordBytes === 1 ? new Uint8Array(count) : wordBytes === 2 ? new Uint16Array(count) : new Uint32Array(count * wordsPerElement);
  const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === elementsIn(shape.slice(i + 1)));
  if (contiguous) {
    gathered.set(source.subarray(offset * wordsPerElement, (offset + count) * wordsPerElement));
  } else {
    const rank = shape.length;
    const index = new Array<number>(rank).fill(0);
    let at = offset;
    for (let n = 0; n < count; n++) {
      for (let w = 0; w < wordsPerElement; w++) gathered[n * wordsPerElement + w] = source[at * wordsPerElement + w]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++index[d]! < shape[d]!) {
          at += stride[d]!;
          break;
        }
        at -= (shape[d]! - 1) * stride[d]!;
        index[d] = 0;
      }
    }
  }
  const buffer = gathered.buffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buffer);
    case 'float16': return halfBitsToFloat32(new Uint16Array(buffer));
    case 'bfloat16': return bfloat16BitsToFloat32(new Uint16Array(buffer));
    case 'float64': return Float32Array.from(new Float64Array(buffer));
    case 'int32': return new Int32Array(buffer);
    case 'int16': return Int32Array.from(new Int16Array(buffer));
    case 'int8': return Int32Array.from(new Int8Array(buffer));
    case 'uint8': return Int32Array.from(new Uint8Array(buffer));
    case 'bool': return Int32Array.from(new Uint8Array(buffer), (b) => (b ? 1 : 0));
    case 'int64': {
      const words = new Int32Array(buffer);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = words[2 * i]!;
        if (words[2 * i + 1] !== lo >> 31) fail(`int64 value ${new BigInt64Array(buffer)[i]} at index ${i} does not fit in int32`);
        out[i] = lo;
      }
      return out;
    }
  }
}

/** Finds the single `<prefix>/data.pkl` of a PyTorch zip archive and returns the prefix (with '/'). */
function archivePrefix(archive: ZipArchive): string {
  const prefixes = archive.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n)).map((n) => n.slice(0, -'data.pkl'.length));
  if (prefixes.length === 0) {
    throw new Error(`${archive.label}: not a PyTorch zip checkpoint (no <archive>/data.pkl entry; found ${archive.names().slice(0, 5).join(', ') || 'no entries'})`);
  }
  if (prefixes.length > 1) throw new Error(`${archive.label}: several data.pkl entries (${prefixes.join(', ')})`);
  return prefixes[0]!;
}

/**
 * Reads a PyTorch zip checkpoint (path or bytes): `torch.save(state_dict)` (also nested dicts of
 * tensors, flattened with dots) or a TorchScript archive, whose module tree is walked into the
 * names `state_dict()` would give, using the archive's class declarations to keep only parameters
 * and buffers. Tensors are made contiguous; floats become Float32Array, integers Int32Array.
 */
export function readTorchCheckpoint(source: string | Uint8Array, options: { label?: string } = {}): TorchCheckpoint {
  const archive = ZipArchive.open(source, options.label);
  try {
    return readArchive(archive);
  } finally {
    archive.close();
  }
}

/** `readTorchCheckpoint(...).tensors`. */
export function readTorchStateDict(source: string | Uint8Array, options: { label?: string } = {}): Map<string, TorchTensor> {
  return readTorchCheckpoint(source, options).tensors;
}

function readArchive(archive: ZipArchive): TorchCheckpoint {
  const label = archive.label;
  const prefix = archivePrefix(archive);
  const fileFail = (problem: string): never => {
    throw new Error(`${label}: ${problem}`);
  };
  if (archive.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(archive.read(`${prefix}byteorder`, 64)).trim();
    if (order !== 'little') fileFail(`storages are ${order}-endian; only little-endian checkpoints are supported`);
  }
  const pickleLabel = `${label}: ${prefix}data.pkl`;
  const pickleFail = (problem: string): never => {
    throw new Error(`${pickleLabel}: ${problem}`);
  };

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) {
      return pickleFail(`unsupported persistent id ${describe(pid)} (expected ('storage', type, key, location, numel))`);
    }
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    if (!(type instanceof StorageType)) return pickleFail(`persistent id names ${describe(type)}, not a storage type`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) return pickleFail(`bad storage key ${JSON.stringify(key)}`);
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return pickleFail(`storage "${key}" has bad size ${String(numel)}`);
    const existing = storages.get(key);
    if (existing) {
      if (existing.type !== type) pickleFail(`storage "${key}" is used as both torch.${existing.type.name} and torch.${type.name}`);
      return existing;
    }
    const entry = `${prefix}data/${key}`;
    const ref = new StorageRef(key, type, numel, () => {
      if (!archive.has(entry)) fileFail(`storage "${key}" is missing (no ${entry} entry)`);
      const bytes = archive.read(entry);
      if (bytes.byteLength < numel * type.bytes) {
        fileFail(`storage "${key}" is ${bytes.byteLength} bytes but holds ${numel} ${type.dtype} elements (${numel * type.bytes} bytes)`);
      }
      return bytes;
    });
    storages.set(key, ref);
    return ref;
  };

  const rebuildTensor = (args: unknown[]): TensorRef => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) return pickleFail(`_rebuild_tensor_v2 expects a storage, found ${describe(storage)}`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return pickleFail(`bad storage offset ${String(offset)}`);
    const shape = intList(size, 'tensor size', pickleFail);
    const strides = intList(stride, 'tensor stride', pickleFail);
    if (shape.length !== strides.length) pickleFail(`tensor size [${shape.join(', ')}] and stride [${strides.join(', ')}] differ in length`);
    return new TensorRef(storage, offset, shape, strides);
  };
  const firstArgument = (args: unknown[]) => args[0];

  const findGlobal = (module: string, name: string): PickleGlobal => {
    const qualified = `${module}.${name}`;
    const storageType = module === 'torch' ? STORAGE_TYPES.get(name) : undefined;
    if (storageType) return storageType;
    if (module === '__torch__' || module.startsWith('__torch__.')) {
      // TorchScript classes: instances are attribute records; their methods are never looked at.
      return pickleGlobal(module, name, () => new TorchScriptObject(qualified));
    }
    switch (qualified) {
      case 'collections.OrderedDict':
        return pickleGlobal(module, name, (args) => {
          if (args.length === 0) return new PyDict();
          return pickleFail('OrderedDict with arguments is not supported');
        });
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return pickleGlobal(module, name, rebuildTensor);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return pickleGlobal(module, name, firstArgument);
      case 'torch.jit._pickle.build_intlist':
      case 'torch.jit._pickle.build_floatlist':
      case 'torch.jit._pickle.build_boollist':
      case 'torch.jit._pickle.build_doublelist':
      case 'torch.jit._pickle.build_tensorlist':
      case 'torch.jit._pickle.restore_type_tag':
        return pickleGlobal(module, name, firstArgument);
      case 'torch.Size':
        return pickleGlobal(module, name, firstArgument);
      case 'torch.device':
        return pickleGlobal(module, name, (args) => String(args[0]));
    }
    return pickleFail(`refusing to load ${qualified}: only tensor state dicts and TorchScript archives are supported`);
  };

  const root = unpickle(archive.read(`${prefix}data.pkl`), { findGlobal, persistentLoad, label: pickleLabel });
  const torchscript = root instanceof TorchScriptObject;
  const declarations = new TorchScriptDeclarations(archive, prefix);
  const tensors = new Map<string, TorchTensor>();
  const emit = (name: string, ref: TensorRef) => {
    if (tensors.has(name)) fileFail(`two tensors are named "${name}"`);
    const fail = (problem: string): never => fileFail(`tensor "${name}": ${problem}`);
    tensors.set(name, { dtype: ref.storage.type.dtype, shape: ref.shape, stride: ref.stride, storageOffset: ref.offset, data: materialize(ref, fail) });
  };

  const visiting = new Set<unknown>();
  const walk = (value: unknown, name: string, depth: number): void => {
    if (value instanceof TensorRef) return emit(name, value);
    if (typeof value !== 'object' || value === null || visiting.has(value)) return;
    if (depth > 256) fileFail(`objects nest deeper than 256 levels at "${name}"`);
    const join = (key: unknown) => (name ? `${name}.${String(key)}` : String(key));
    visiting.add(value);
    if (value instanceof TorchScriptObject) {
      // state_dict order: own parameters, own buffers, then submodules.
      const declared = declarations.lookup(value.className);
      if (declared) {
        for (const key of [...declared.parameters, ...declared.buffers]) {
          const tensor = value.attributes.get(key);
          if (tensor instanceof TensorRef) emit(join(key), tensor);
        }
        for (const [key, attr] of value.attributes) if (attr instanceof TorchScriptObject) walk(attr, join(key), depth + 1);
      } else {
        for (const [key, attr] of value.attributes) if (attr instanceof TensorRef) emit(join(key), attr);
        for (const [key, attr] of value.attributes) if (!(attr instanceof TensorRef)) walk(attr, join(key), depth + 1);
      }
    } else if (value instanceof PyDict) {
      for (const [key, item] of value) walk(item, join(key), depth + 1);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, join(i), depth + 1));
    }
    visiting.delete(value);
  };
  if (!(root instanceof TorchScriptObject || root instanceof PyDict || Array.isArray(root))) {
    fileFail(`data.pkl holds ${describe(root)}, not tensors`);
  }
  walk(root, '', 0);
  return { format: torchscript ? 'torchscript' : 'pickle', tensors };
}
