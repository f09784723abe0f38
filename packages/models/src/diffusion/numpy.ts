// The few NumPy behaviours diffusers' timestep code depends on, reproduced bit for bit: timesteps
// that differ by one from diffusers' would silently change every sample.

/** `np.round`: halves go to the even neighbour (np.linspace(0, 999, 25) has 166.5 → 166). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.linspace(start, stop, num)`: i·((stop−start)/(num−1)) + start, the last value exactly `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for float steps: ceil((stop−start)/step) values start + i·δ with
 * δ = (start+step) − start, which is what NumPy actually fills with (it can differ from `step` in the
 * last bit, and the length can be one more than the caller meant).
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return Array.from({ length }, (_, i) => start + i * delta);
}

/** `np.interp(x, [0, 1, …, n−1], ys)`: linear interpolation on unit-spaced knots, clamped at the ends. */
export function interpUnitGrid(x: number, ys: ArrayLike<number>): number {
  const last = ys.length - 1;
  if (x <= 0) return ys[0];
  if (x >= last) return ys[last];
  const i = Math.floor(x);
  const f = x - i;
  return f === 0 ? ys[i] : ys[i] + f * (ys[i + 1] - ys[i]);
}
