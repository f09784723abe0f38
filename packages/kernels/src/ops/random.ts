// Counter-based random numbers: Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011) on the GPU, with a bit-identical TypeScript twin for tests and CPU code.
//
// Stream layout. Element g of the stream for `seed` (g = offset + i for output element i) is word
// g mod 4 of philox4x32(counter = [lo32(g/4), hi32(g/4), 0, 0], key = [lo32(seed), hi32(seed)]).
// So a shape's output is the prefix of any larger shape's, and offset k continues the stream at k:
// training advances `offset` by the number of values it drew (or changes the seed).
// Uniforms are (word >> 8)·2⁻²⁴ ∈ [0, 1), exactly representable in f32, hence identical everywhere.
// Normals pair words (0,1) and (2,3) of a block through Box–Muller: transcendental, so equal to the
// CPU twin only up to f32 rounding of log/cos/sin.
import { DeviceArray } from '../array.ts';
import { rt } from '../runtime/current.ts';
import { fmt, sizeOf, type Shape } from '../shape.ts';
import { kernelSource } from '../runtime/kernel-source.ts';
import { bindings, grid, gridMain, linearIndex, Params } from '../wgsl.ts';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_POW_32 = 4294967296;
const INV_2_24 = 1 / 16777216;

/** High 32 bits of the 64-bit product of two u32, from 16-bit halves (exact in doubles). */
function mulHi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const mid = ((aLo * bLo) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox-4x32-10 of a 128-bit counter under a 64-bit key (all words u32), as in Random123. */
export function philox4x32(counter: [number, number, number, number], key: [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((w) => w >>> 0);
  let [k0, k1] = key.map((w) => w >>> 0);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulHi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulHi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

function splitU64(op: string, what: string, value: number): [number, number] {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${op}: ${what} must be an integer in [0, 2^53), got ${value}`);
  return [value % TWO_POW_32, Math.floor(value / TWO_POW_32)];
}

/** Raw 32-bit words g = offset … offset+count−1 of the stream for `seed` (host side). */
export function randomBitsHost(count: number, seed: number, offset = 0): Uint32Array {
  const key = splitU64('randomBitsHost', 'seed', seed);
  splitU64('randomBitsHost', 'offset', offset + count);
  const out = new Uint32Array(count);
  let block = -1;
  let words: number[] = [];
  for (let i = 0; i < count; i++) {
    const g = offset + i;
    const b = Math.floor(g / 4);
    if (b !== block) {
      block = b;
      words = philox4x32([b % TWO_POW_32, Math.floor(b / TWO_POW_32), 0, 0], key);
    }
    out[i] = words[g % 4];
  }
  return out;
}

/** Exactly the values `randomUniform` produces for the same count, seed and offset. */
export function randomUniformHost(count: number, seed: number, offset = 0): Float32Array {
  return Float32Array.from(randomBitsHost(count, seed, offset), (w) => (w >>> 8) * INV_2_24);
}

/** `randomNormal`'s values computed in float64 (the GPU agrees up to f32 rounding of log/sin/cos). */
export function randomNormalHost(count: number, seed: number, offset = 0, mean = 0, std = 1): Float64Array {
  const start = offset - (offset % 2); // Box–Muller pairs are aligned to even stream positions
  const bits = randomBitsHost(count + (offset - start) + 1, seed, start);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const g = offset + i;
    const pair = g - start - (g % 2);
    const u1 = ((bits[pair] >>> 8) + 1) * INV_2_24;
    const u2 = (bits[pair + 1] >>> 8) * INV_2_24;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    out[i] = mean + std * (g % 2 === 0 ? r * Math.cos(theta) : r * Math.sin(theta));
  }
  return out;
}

const PHILOX_WGSL = `
fn mul_hi(a: u32, b: u32) -> u32 {
  let a_lo = a & 0xffffu; let a_hi = a >> 16u;
  let b_lo = b & 0xffffu; let b_hi = b >> 16u;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let mid = ((a_lo * b_lo) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}
fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  return vec4<u32>(mul_hi(${M1}u, c.z) ^ c.y ^ k.x, ${M1}u * c.z, mul_hi(${M0}u, c.x) ^ c.w ^ k.y, ${M0}u * c.x);
}
fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  // Ten rounds, unrolled (faster than a loop on lavapipe); round r uses key + r·(W0, W1).
${Array.from({ length: 10 }, (_, r) => {
  const k = r === 0 ? 'key' : `(key + vec2<u32>(${Math.imul(r, W0) >>> 0}u, ${Math.imul(r, W1) >>> 0}u))`;
  return `  c = philox_round(c, ${k});`;
}).join('\n')}
  return c;
}
fn to_unit(w: u32) -> f32 { return f32(w >> 8u) * ${INV_2_24}; }
`;

/**
 * Where a draw starts, as the kernels read it: [lead, block_lo, block_hi, key0, key1] (u32). It lives
 * in a small buffer rather than in the kernel's uniforms so that a recorded step can advance it
 * (its generator uploads the next position in a `perRun` callback) and replay the same dispatch.
 */
export function randomPosition(op: string, seed: number, offset: number, count: number): Uint32Array {
  const key = splitU64(op, 'seed', seed);
  splitU64(op, 'offset', offset + count);
  const [blockLo, blockHi] = splitU64(op, 'offset', Math.floor(offset / 4));
  return Uint32Array.of(offset % 4, blockLo, blockHi, key[0], key[1]);
}

/** A device array holding `randomPosition(…)` (the caller disposes it). */
export function randomPositionArray(op: string, seed: number, offset: number, count: number): DeviceArray {
  return DeviceArray.from(randomPosition(op, seed, offset, count), [5], 'u32');
}

/**
 * The shared kernel: invocation t computes one Philox block (4 stream words) and writes the output
 * elements that fall in it. `transform` maps the block's words `w: vec4<u32>` to `vals: vec4<f32>`,
 * reading `floats` as uniforms `p.<name>`. It covers the most blocks any start can need (the
 * start's offset within its first block is only known on the device).
 */
function philoxKernel(name: string, shape: Shape, position: DeviceArray, transform: string, floats: Record<string, number> = {}): DeviceArray {
  if (position.dtype !== 'u32' || position.size !== 5) throw new Error(`${name}: the stream position must be 5 u32 words, got ${fmt(position.shape)} ${position.dtype}`);
  const out = DeviceArray.empty(shape, 'f32', name);
  const n = sizeOf(shape);
  if (n === 0) return out;
  const blocks = Math.ceil((n + 3) / 4);
  const params = new Params().u32('n', n).u32('blocks', blocks);
  for (const [field, value] of Object.entries(floats)) params.f32(field, value);
  const code = kernelSource(`philox:${name}`, () => `${bindings([['pos', 'u32']], [['out', 'f32']])}${params.decl(2)}${PHILOX_WGSL}
${gridMain()} {
  let t = ${linearIndex()};
  if (t >= p.blocks) { return; }
  let lead = pos[0];
  let lo = pos[1] + t;
  let hi = pos[2] + select(0u, 1u, lo < t); // 64-bit block counter with carry
  let w = philox(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(pos[3], pos[4]));
  ${transform}
  ${[0, 1, 2, 3].map((j) => `if (t * 4u + ${j}u >= lead && t * 4u + ${j}u - lead < p.n) { out[t * 4u + ${j}u - lead] = vals[${j}]; }`).join('\n  ')}
}`);
  rt().dispatch({ name, code, inputs: [position.buffer], outputs: [out.buffer], params: params.pack(), workgroups: grid(blocks) });
  return out;
}

/** Runs a draw at a (seed, offset) given on the host. */
function drawAt(name: string, shape: Shape, seed: number, offset: number, draw: (position: DeviceArray) => DeviceArray): DeviceArray {
  const position = randomPositionArray(name, seed, offset, sizeOf(shape));
  const out = draw(position);
  position.dispose();
  return out;
}

const UNIFORM = 'let vals = vec4<f32>(to_unit(w.x), to_unit(w.y), to_unit(w.z), to_unit(w.w));';

/** Uniform f32 values in [0, 1) (multiples of 2⁻²⁴), equal bit for bit to `randomUniformHost`. */
export function randomUniform(shape: Shape, seed: number, offset = 0): DeviceArray {
  return drawAt('randomUniform', shape, seed, offset, (position) => randomUniformAt(shape, position));
}

/** `randomUniform` from a stream position held on the device (see `randomPosition`). */
export function randomUniformAt(shape: Shape, position: DeviceArray): DeviceArray {
  return philoxKernel('randomUniform', shape, position, UNIFORM);
}

/**
 * Normal f32 values (Box–Muller on pairs of stream words: u₁ = ((w>>8)+1)·2⁻²⁴ ∈ (0, 1] keeps the
 * log finite). Matches `randomNormalHost` up to f32 rounding.
 */
export function randomNormal(shape: Shape, seed: number, offset = 0, mean = 0, std = 1): DeviceArray {
  return drawAt('randomNormal', shape, seed, offset, (position) => randomNormalAt(shape, position, mean, std));
}

export function randomNormalAt(shape: Shape, position: DeviceArray, mean = 0, std = 1): DeviceArray {
  const transform = `let r0 = sqrt(-2.0 * log(f32((w.x >> 8u) + 1u) * ${INV_2_24}));
  let a0 = ${2 * Math.PI} * to_unit(w.y);
  let r1 = sqrt(-2.0 * log(f32((w.z >> 8u) + 1u) * ${INV_2_24}));
  let a1 = ${2 * Math.PI} * to_unit(w.w);
  let vals = p.mean + p.scale * vec4<f32>(r0 * cos(a0), r0 * sin(a0), r1 * cos(a1), r1 * sin(a1));`;
  return philoxKernel('randomNormal', shape, position, transform, { mean, scale: std });
}

/**
 * Inverted-dropout mask: each element is 0 with probability p (stream uniform u < p), else 1/(1−p).
 * p = 1 gives all zeros. Multiply activations by it (and the gradient by the same mask).
 */
export function dropoutMask(shape: Shape, p: number, seed: number, offset = 0): DeviceArray {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropoutMask: p must be in [0, 1], got ${p} (shape ${fmt(shape)})`);
  return drawAt('dropoutMask', shape, seed, offset, (position) => dropoutMaskAt(shape, p, position));
}

export function dropoutMaskAt(shape: Shape, p: number, position: DeviceArray): DeviceArray {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropoutMask: p must be in [0, 1], got ${p} (shape ${fmt(shape)})`);
  const keep = p < 1 ? 1 / (1 - p) : 0;
  const transform = `let u = vec4<f32>(to_unit(w.x), to_unit(w.y), to_unit(w.z), to_unit(w.w));
  let vals = select(vec4<f32>(p.keep), vec4<f32>(0.0), u < vec4<f32>(p.p));`;
  return philoxKernel('dropoutMask', shape, position, transform, { p, keep });
}
