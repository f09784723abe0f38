// allclose for GPU results against float64 references, with a message that shows the worst element.
import { expect } from 'vitest';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere (NaN only matches NaN). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance = {}, what = 'result'): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue; // also equal infinities
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0)) {
      failures++;
      if (worst < 0 || !(excess <= worstExcess)) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (failures > 0) {
    const a = actual[worst];
    const e = expected[worst];
    expect.fail(
      `${what}: ${failures}/${expected.length} elements outside rtol=${rtol} atol=${atol}; worst at [${worst}]: got ${a}, expected ${e} (abs err ${Math.abs(a - e)})`,
    );
  }
}
