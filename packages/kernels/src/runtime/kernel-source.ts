// Kernel sources built once per configuration. A generator's WGSL depends on a few values (a
// config, dtypes, an epilogue, baked-in shapes); naming them in a short key lets a dispatch skip
// the string building, and hands the runtime the same string object every time, so its pipeline
// lookup compares a pointer instead of hashing kilobytes of text.

const sources = new Map<string, string>();
let verify = false;

/**
 * The WGSL for `key`, built by `build` on first use. The key must name everything `build` reads;
 * with `verifyKernelKeys(true)` (the test suite) every call rebuilds and compares, so a key that
 * misses an input fails loudly instead of running another configuration's kernel.
 */
export function kernelSource(key: string, build: () => string): string {
  const cached = sources.get(key);
  if (cached === undefined) {
    const code = build();
    sources.set(key, code);
    return code;
  }
  if (verify && build() !== cached) throw new Error(`kernelSource: key "${key}" names two different kernels; it misses an input of the generator`);
  return cached;
}

/** Tests turn this on: each cached source is checked against a fresh build. */
export function verifyKernelKeys(on: boolean): void {
  verify = on;
}
