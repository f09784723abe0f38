// The page side of test/browser/generate.browser.test.ts: loads a text → image pipeline over HTTP
// (the parts the test wrote, served at /parts/) and generates images for the test's captions and
// seed, returning the 8-bit images and the VAE's float output for comparison with Node's.
import { fetchLoader } from '@sd/io';
import { initRuntime, rt } from '@sd/kernels';
import { TextToImagePipeline, type TextToImageOptions } from '@sd/models/page';
import { captureDecoded } from './decoded.ts';


async function load() {
  await initRuntime();
  const parts = fetchLoader(new URL('/parts/', (globalThis as unknown as { location: { href: string } }).location.href));
  const pipeline = await TextToImagePipeline.fromLoader(parts, { clip: 'clip.safetensors', prior: 'prior', decoder: 'decoder', vae: 'vae' });
  return { pipeline, decoded: captureDecoded(pipeline.parts.vae) };
}
const loaded = load();

const api = {
  async generate(captions: string[], options: TextToImageOptions) {
    const { pipeline, decoded } = await loaded;
    const out = await pipeline.generate(captions, options);
    return { images: out.images.map((im) => Array.from(im)), side: out.side, embeddings: Array.from(out.embeddings), decoded: Array.from(await decoded.last()), timings: out.timings };
  },
};
export type GeneratePage = typeof api;

const page = globalThis as unknown as { sdGenerate: GeneratePage; sdReady: Promise<string> };
page.sdGenerate = api;
page.sdReady = loaded.then(() => `${rt().info.vendor} ${rt().info.architecture}`);
