// A restricted pickle reader: it understands the opcodes of protocols 2–4 that checkpoints use and
// builds plain data (null, booleans, numbers, bigints, strings, bytes, arrays, Maps). It never calls
// into Python-defined behaviour: every GLOBAL is resolved through a caller-supplied allowlist, and
// REDUCE / NEWOBJ / BUILD only invoke the small data-building handlers that allowlist returns.
// Any other global, or any opcode outside the supported set, is an error that names it.

/** A class or function named by GLOBAL, as resolved by the caller's allowlist. */
export interface PickleGlobal {
  readonly module: string;
  readonly name: string;
  /** REDUCE (`f(*args)`) and NEWOBJ (`cls.__new__(cls, *args)`): build a value from the arguments. */
  call(args: unknown[]): unknown;
}

/** An object built by NEWOBJ/REDUCE that accepts BUILD (`__setstate__`). */
export interface PickleBuildable {
  setState(state: unknown): void;
}

export interface UnpickleOptions {
  /** Resolves GLOBAL module/name to a handler; throws (with a useful message) for anything not allowed. */
  findGlobal(module: string, name: string): PickleGlobal;
  /** Resolves BINPERSID ids (PyTorch uses them for tensor storages). */
  persistentLoad?(pid: unknown): unknown;
  /** Prefixes every error message (usually the archive and member name). */
  label: string;
}

/** A Python dict; `Map` keeps insertion order like Python. BUILD on a dict stores attributes aside. */
export class PyDict extends Map<unknown, unknown> {
  attributes: unknown;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT', 0x80: 'PROTO',
  0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');

function isGlobal(value: unknown): value is PickleGlobal {
  return typeof value === 'object' && value !== null && typeof (value as PickleGlobal).call === 'function' && 'module' in value;
}

/** Little-endian two's-complement integer of LONG1/LONG4; a number when it is a safe integer. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** Runs the pickle machine over `data` and returns the unpickled root object. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let op = 0;
  let opAt = 0;

  const fail = (problem: string): never => {
    throw new Error(`${options.label}: ${problem} (opcode ${OPCODE_NAMES[op] ?? `0x${op.toString(16)}`} at byte ${opAt})`);
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > data.length) fail(`truncated pickle: needs ${n} more bytes at byte ${pos}, only ${data.length - pos} left`);
  };
  const u8 = () => (need(1), data[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const bytes = (n: number) => (need(n), (pos += n), data.subarray(pos - n, pos));
  const text = (n: number) => {
    const raw = bytes(n);
    try {
      return utf8.decode(raw);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const pop = () => (stack.length === 0 ? fail('stack underflow') : stack.pop());
  const top = () => (stack.length === 0 ? fail('stack underflow') : stack[stack.length - 1]);
  const popMark = (): unknown[] => {
    const at = marks.pop();
    if (at === undefined) return fail('no MARK on the stack');
    return stack.splice(at);
  };
  const memoGet = (index: number) => (memo.has(index) ? memo.get(index) : fail(`memo entry ${index} was never stored`));
  const asDict = (target: unknown): PyDict => (target instanceof PyDict ? target : fail(`expected a dict, found ${describe(target)}`));
  const asList = (target: unknown): unknown[] => (Array.isArray(target) ? target : fail(`expected a list, found ${describe(target)}`));
  const call = (callable: unknown, args: unknown) => {
    if (!isGlobal(callable)) return fail(`cannot call ${describe(callable)}`);
    if (!Array.isArray(args)) return fail(`arguments of ${callable.module}.${callable.name} are not a tuple`);
    return callable.call(args);
  };

  for (;;) {
    opAt = pos;
    op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: framing is irrelevant once the whole pickle is in memory
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`pickle ended with ${stack.length} values on the stack`);
        return stack[0];
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(decodeLong(bytes(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(decodeLong(bytes(n)));
        break;
      }
      case 0x47: need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(Object.freeze(popMark())); break; // TUPLE
      case 0x85: stack.push(Object.freeze([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(Object.freeze([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(Object.freeze([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) fail('DICT with an odd number of items');
        const dict = new PyDict();
        for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); asList(top()).push(...items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); asDict(top()).set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const dict = asDict(top());
        for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x63: { // GLOBAL "module\nname\n"
        const line = () => {
          const end = data.indexOf(0x0a, pos);
          if (end < 0) fail('GLOBAL without a newline');
          const s = new TextDecoder('latin1').decode(data.subarray(pos, end));
          pos = end + 1;
          return s;
        };
        const module = line();
        const name = line();
        stack.push(options.findGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(options.findGlobal(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const callable = pop(); stack.push(call(callable, args)); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (target instanceof PyDict) target.attributes = state; // e.g. OrderedDict._metadata
        else if (typeof target === 'object' && target !== null && typeof (target as PickleBuildable).setState === 'function') {
          (target as PickleBuildable).setState(state);
        } else fail(`cannot BUILD ${describe(target)}`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent ids are not supported here');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        fail(`unsupported pickle opcode${op in OPCODE_NAMES ? '' : ' (unknown)'}`);
    }
  }
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'None';
  if (isGlobal(value)) return `${value.module}.${value.name}`;
  if (value instanceof PyDict) return 'a dict';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'a tuple' : 'a list';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value;
}
