// Central differences of a float64 scalar function, the independent check of every backward kernel.

/** ∂f/∂x_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / 2h for every i. */
export function centralDifferences(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-6): number[] {
  return Array.from(x, (_, i) => {
    const p = Float64Array.from(x);
    const m = Float64Array.from(x);
    p[i] += h;
    m[i] -= h;
    return (f(p) - f(m)) / (2 * h);
  });
}
