// Deterministic benchmark inputs: values in [−0.5, 0.5) from a 32-bit LCG (cheap, seedable, no GPU RNG).
import { DeviceArray } from '@sd/kernels';

export function filled(shape: number[], seed: number): DeviceArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return DeviceArray.from(data, shape);
}
