// Captures the VAE's float output (the images before they are rounded to bytes) of a pipeline's next
// generation, so the page and Node can be compared finer than 8-bit pixels allow. Shared by the page
// (pages/generate.ts) and the Node side of test/browser/generate.browser.test.ts.
import type { AutoencoderKL } from '@sd/models/page';

/** Wraps `vae.decode` so that each call's output is also read back; `last()` is the latest read. */
export function captureDecoded(vae: AutoencoderKL): { last(): Promise<Float32Array> } {
  const decode = vae.decode.bind(vae);
  let latest: Promise<Float32Array> | null = null;
  // read() encodes its copy now, so the tensor may be disposed by the caller right after.
  vae.decode = (z) => {
    const y = decode(z);
    latest = y.read() as Promise<Float32Array>;
    return y;
  };
  return {
    last: () => {
      if (!latest) throw new Error('captureDecoded: the VAE has not decoded anything yet');
      return latest;
    },
  };
}
