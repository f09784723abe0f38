// The demo page (`pnpm demo`): reports the WebGPU adapter (or why there is none), loads the committed
// default CLIP, priors, decoder and VAE over HTTP from packages/models/assets/, and draws the images
// generated for a caption with the chosen arm, with the time of each stage.
import { fetchLoader } from '@sd/io';
import { initRuntime, rt } from '@sd/kernels';
import { AutoencoderKL, loadDecoderSchedulerConfig, loadExportedClipFrom, loadPriorFrom, TextToImagePipeline, UNet2DConditionModelEmb, UNet2DConditionModel, type PriorBundle } from '@sd/models/page';


// The repository's TypeScript has no DOM library (it clashes with Node's types across the packages),
// so the few DOM calls of this page are typed here.
interface Element {
  textContent: string | null;
  className: string;
  value: string;
  disabled: boolean;
  onclick: (() => void) | null;
  replaceChildren(...nodes: unknown[]): void;
  append(...nodes: unknown[]): void;
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { putImageData(image: unknown, x: number, y: number): void } | null;
}
const { document, location, ImageData } = globalThis as unknown as {
  document: { getElementById(id: string): Element | null; createElement(tag: 'canvas'): Canvas };
  location: { href: string };
  ImageData: new (data: Uint8ClampedArray, width: number, height: number) => unknown;
};
const $ = (id: string): Element => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo page: no element #${id}`);
  return el;
};
const status = (text: string, error = false) => {
  const el = $('status');
  el.textContent = text;
  el.className = error ? 'error' : '';
};

type Arm = 'shifted' | 'baseline' | 'none';

async function loadParts(): Promise<Record<Arm, TextToImagePipeline>> {
  const assets = fetchLoader(new URL('/assets/', location.href));
  status('loading the decoder, VAE, CLIP and priors …');
  const unet = await UNet2DConditionModel.fromLoader(assets, 'default-decoder');
  if (!(unet instanceof UNet2DConditionModelEmb)) throw new Error('default-decoder: not the image-embedding decoder');
  const vae = await AutoencoderKL.fromLoader(assets, 'default-vae');
  const clip = await loadExportedClipFrom(assets, 'default-clip.safetensors');
  const priors: Record<'shifted' | 'baseline', PriorBundle> = {
    shifted: await loadPriorFrom(assets, 'default-prior/shifted.safetensors'),
    baseline: await loadPriorFrom(assets, 'default-prior/baseline.safetensors'),
  };
  const parts = { clip, unet: unet.eval(), vae: vae.eval(), schedulerConfig: await loadDecoderSchedulerConfig(assets, 'default-decoder') };
  return {
    shifted: new TextToImagePipeline({ ...parts, prior: priors.shifted }),
    baseline: new TextToImagePipeline({ ...parts, prior: priors.baseline }),
    none: new TextToImagePipeline({ ...parts, prior: null }),
  };
}

function draw(images: Uint8Array[], side: number): void {
  const out = $('images');
  out.replaceChildren();
  for (const rgba of images) {
    const canvas = document.createElement('canvas');
    canvas.width = side;
    canvas.height = side;
    canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), side, side), 0, 0);
    out.append(canvas);
  }
}

async function main(): Promise<void> {
  let pipelines: Record<Arm, TextToImagePipeline>;
  try {
    await initRuntime();
    const { info } = rt();
    $('adapter').textContent = `WebGPU adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')} (kernels for "${info.kind}"; ${info.features.join(', ') || 'no optional features'})`;
    pipelines = await loadParts();
  } catch (e) {
    $('adapter').textContent = (e as Error).message.startsWith('WebGPU unavailable') ? (e as Error).message : `WebGPU unavailable: ${(e as Error).message}`;
    $('adapter').className = 'error';
    status('');
    return;
  }
  status('ready');
  const button = $('generate');
  button.disabled = false;
  button.onclick = async () => {
    button.disabled = true;
    const arm = $('arm').value as Arm;
    const captions = [$('caption').value];
    const n = Number($('count').value);
    const steps = Number($('steps').value);
    const seed = Number($('seed').value);
    status(`generating ${n} image${n > 1 ? 's' : ''} (${arm}, ${steps} DDIM steps) …`);
    try {
      const t = performance.now();
      const out = await pipelines[arm].generate(Array(n).fill(captions[0]), { steps, seed });
      draw(out.images, out.side);
      const ms = (v: number) => `${v.toFixed(0)} ms`;
      status(`done in ${ms(performance.now() - t)}: text ${ms(out.timings.textMs)}, prior ${ms(out.timings.priorMs)}, decoder + VAE ${ms(out.timings.decodeMs)}${out.truncated.length ? ' (caption cut to the CLIP context)' : ''}`);
    } catch (e) {
      status(`failed: ${(e as Error).message}`, true);
    } finally {
      button.disabled = false;
    }
  };
}

void main();
