// Kernel sources built once per configuration. A generator's WGSL depends on a few values (a
// config, dtypes, an epilogue, baked-in shapes); naming them in a short key lets a dispatch skip
// the string building, and hands the runtime the same string object every time, so its pipeline
// lookup compares a pointer instead of hashing kilobytes of text.

const built = new Map<string, { code: string }>();
let verify = false;

/**
 * A generated kernel (its WGSL `code` and whatever the generator computed with it, e.g. the
 * workgroup grid) for `key`, built by `build` on first use. The key must name everything `build`
 * reads; with `verifyKernelKeys(true)` (the test suite) every call rebuilds and compares, so a key
 * that misses an input fails loudly instead of running another configuration's kernel.
 */
export function cachedKernel<K extends { code: string }>(key: string, build: () => K): K {
  const hit = built.get(key) as K | undefined;
  if (hit === undefined) {
    const kernel = build();
    built.set(key, kernel);
    return kernel;
  }
  if (verify) {
    const fresh = build();
    if (fresh.code !== hit.code || JSON.stringify({ ...fresh, code: '' }) !== JSON.stringify({ ...hit, code: '' })) {
      throw new Error(`kernel cache: key "${key}" names two different kernels; it misses an input of the generator`);
    }
  }
  return hit;
}

/** The WGSL for `key` (see cachedKernel). */
export function kernelSource(key: string, build: () => string): string {
  return cachedKernel(key, () => ({ code: build() })).code;
}

/** Tests turn this on: each cached kernel is checked against a fresh build. */
export function verifyKernelKeys(on: boolean): void {
  verify = on;
}
