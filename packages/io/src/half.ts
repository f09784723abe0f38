// Conversions between 16-bit floats and float32, for checkpoints and arrays stored in half or bfloat16 precision.

let halfTable: Float32Array | undefined;

/** float32 value of every IEEE binary16 bit pattern (256 KiB, built on first use). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = halfBitsToFloat(h);
  halfTable = table;
  return table;
}

/** The value of one IEEE binary16 bit pattern. */
export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** IEEE binary16 bit patterns → float32 values (exact: every half is a float). */
export function halfBitsToFloat32(bits: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/** bfloat16 bit patterns → float32 values (exact: bfloat16 is the top half of a float32). */
export function bfloat16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}

/**
 * float32 values → IEEE binary16 bit patterns, rounding to nearest even; overflow becomes ±Infinity,
 * tiny values become subnormals or ±0 (for compact checkpoints of small models).
 */
export function float32ToHalfBits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    const mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      // Subnormal: shift the implicit-1 mantissa, round half to even.
      const m = mantissa | 0x800000;
      const shift = 14 - e;
      const half = 1 << (shift - 1);
      const rest = m & ((1 << shift) - 1);
      let v = m >>> shift;
      if (rest > half || (rest === half && v & 1)) v++;
      out[i] = sign | v;
      continue;
    }
    let v = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && v & 1)) v++; // may carry into the exponent, which is right
    out[i] = sign | v;
  }
  return out;
}
