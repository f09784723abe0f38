// The demo page (`pnpm demo`): reports the WebGPU adapter (or why there is none), loads the committed
// default CLIP, priors, decoder and VAE over HTTP from packages/models/assets/, and draws the images
// generated for a caption with the chosen arm, with a progress bar and the time of each stage. A
// second panel trains a prior in the page (the committed prior's settings on the committed embedded
// pairs) with a live loss plot; the trained prior then becomes an arm of the first panel.
import { fetchLoader, type FileLoader } from '@sd/io';
import { initRuntime, rt } from '@sd/kernels';
import {
  AutoencoderKL, disposePrior, drawPlot, GENERATION_STAGES, withSteps, loadDecoderSchedulerConfig, loadEmbeddingPairsFrom, loadExportedClipFrom, loadPriorFrom, PriorTraining,
  priorRunConfig, shiftStatsFor, TextToImagePipeline, UNet2DConditionModel, asDecoderUnet, type EmbeddingPairs, type GenerationProgress, type PriorBundle, type TextToImageParts,
} from '@sd/models/page';
import { $, drawRgb, drawRgba, setStatus, type Element } from './dom.ts';

const { location } = globalThis as unknown as { location: { href: string } };

type Arm = 'shifted' | 'baseline' | 'none' | 'trained';

/**
 * One GPU job at a time: generation and training share the runtime (and its tidy scopes). A job's
 * unexpected error ends up on its status line, not as an unhandled rejection.
 */
let busy = false;
const buttons = () => [$('generate'), $('train')];
async function exclusive(job: () => Promise<void>, statusId: string): Promise<void> {
  if (busy) return;
  busy = true;
  for (const b of buttons()) b.disabled = true;
  try {
    await job();
  } catch (e) {
    setStatus(statusId, `failed: ${(e as Error).message}`, true);
  } finally {
    busy = false;
    for (const b of buttons()) b.disabled = false;
  }
}

interface Loaded {
  assets: FileLoader;
  parts: Omit<TextToImageParts, 'prior'>;
  priors: Record<'shifted' | 'baseline', PriorBundle>;
  pipelines: Partial<Record<Arm, TextToImagePipeline>>;
}

async function loadParts(): Promise<Loaded> {
  const assets = fetchLoader(new URL('/assets/', location.href));
  setStatus('status', 'loading the decoder, VAE, CLIP and priors …');
  const unet = asDecoderUnet(await UNet2DConditionModel.fromLoader(assets, 'default-decoder'), 'default-decoder');
  const vae = (await AutoencoderKL.fromLoader(assets, 'default-vae')).eval();
  const clip = await loadExportedClipFrom(assets, 'default-clip.safetensors');
  const priors = {
    shifted: await loadPriorFrom(assets, 'default-prior/shifted.safetensors'),
    baseline: await loadPriorFrom(assets, 'default-prior/baseline.safetensors'),
  };
  const parts = { clip, unet, vae, schedulerConfig: await loadDecoderSchedulerConfig(assets, 'default-decoder') };
  return {
    assets,
    parts,
    priors,
    pipelines: {
      shifted: new TextToImagePipeline({ ...parts, prior: priors.shifted }),
      baseline: new TextToImagePipeline({ ...parts, prior: priors.baseline }),
      none: new TextToImagePipeline({ ...parts, prior: null }),
    },
  };
}

/** Sets the stage's progress bar. */
function showProgress(p: GenerationProgress): void {
  const bar = $(`progress-${p.stage}`);
  bar.max = p.total;
  bar.value = String(p.done);
}

async function generate(loaded: Loaded): Promise<void> {
  const arm = $('arm').value as Arm;
  const pipeline = loaded.pipelines[arm];
  if (!pipeline) return setStatus('status', 'train a prior in the panel below first', true);
  const caption = $('caption').value;
  const n = Number($('count').value);
  const steps = Number($('steps').value);
  const seed = Number($('seed').value);
  for (const stage of GENERATION_STAGES) showProgress({ stage, done: 0, total: 1 });
  setStatus('status', `generating ${n} image${n > 1 ? 's' : ''} (${arm}, ${steps} DDIM steps) …`);
  try {
    const t = performance.now();
    const out = await pipeline.generate(Array(n).fill(caption), { steps, seed, onProgress: showProgress });
    $('images').replaceChildren(...out.images.map((rgba) => drawRgba(rgba, out.side, out.side)));
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    setStatus('status', `done in ${ms(performance.now() - t)}: text ${ms(out.timings.textMs)}, prior ${ms(out.timings.priorMs)}, decoder + VAE ${ms(out.timings.decodeMs)}${out.truncated.length ? ' (caption cut to the CLIP context)' : ''}`);
  } catch (e) {
    setStatus('status', `failed: ${(e as Error).message}`, true);
  }
}

/** The value of a number field that must be a positive integer; null (and the field named on the status line) otherwise. */
function positiveInteger(id: string, label: string): number | null {
  const value = Number($(id).value);
  if (Number.isInteger(value) && value >= 1) return value;
  setStatus('train-status', `${label} must be a whole number of at least 1, got ${JSON.stringify($(id).value)}`, true);
  return null;
}

/** The losses logged by the last training run, for the browser test: [step, loss] pairs. */
const trainingLog: [number, number][] = [];
(globalThis as Record<string, unknown>).demoTrainingLog = trainingLog;
const LOG_EVERY = 10;
let stopRequested = false;

function plotLosses(kind: string): void {
  const points = trainingLog.map(([x, y]) => ({ x, y }));
  const plot = drawPlot([{ label: `${kind} prior`, color: kind === 'shifted' ? [200, 40, 40] : [40, 80, 200], points }], {
    xTitle: 'training step', yTitle: 'loss (log scale)', logY: true, width: 480, height: 260,
  });
  $('loss-plot').replaceChildren(drawRgb(plot.data, plot.width, plot.height));
}

/**
 * Trains a prior with the committed prior's settings (its model size, lr, K, std_scale) for the
 * steps and batch size asked, logging the loss every LOG_EVERY steps; the result becomes the
 * 'trained' arm.
 */
async function train(loaded: Loaded, pairs: () => Promise<EmbeddingPairs>): Promise<void> {
  const kind = $('train-kind').value as 'shifted' | 'baseline';
  const steps = positiveInteger('train-steps', 'steps');
  const batchSize = positiveInteger('train-batch', 'batch');
  if (steps === null || batchSize === null) return;
  const committed = loaded.priors[kind].config;
  const settings = withSteps(committed.train, steps, batchSize);
  setStatus('train-status', 'loading the embedded training pairs …');
  let data: EmbeddingPairs;
  try {
    data = await pairs();
  } catch (e) {
    return setStatus('train-status', `could not load the training pairs: ${(e as Error).message}`, true);
  }
  const training = new PriorTraining(data, priorRunConfig(data, committed.model, settings), shiftStatsFor(data, settings));
  trainingLog.length = 0;
  stopRequested = false;
  $('stop').disabled = false;
  const t0 = performance.now();
  let done = 0;
  try {
    for (let step = 0; step < steps && !stopRequested; step++) {
      const loss = training.step(step);
      done = step + 1;
      try {
        // The last step is logged too, also when Stop ends the run early.
        if (done % LOG_EVERY === 0 || done === steps || stopRequested) {
          trainingLog.push([done, (await loss.read())[0]]);
          plotLosses(kind);
          const perSec = done / ((performance.now() - t0) / 1000);
          setStatus('train-status', `step ${done}/${steps}, loss ${trainingLog.at(-1)![1].toFixed(4)}, ${perSec.toFixed(1)} steps/s`);
        } else {
          // A turn of the event loop per step, so that Stop is seen at the next step.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      } finally {
        loss.dispose();
      }
    }
  } catch (e) {
    training.dispose();
    setStatus('train-status', `training failed: ${(e as Error).message}`, true);
    return;
  } finally {
    $('stop').disabled = true;
  }
  const previous = loaded.pipelines.trained;
  loaded.pipelines.trained = new TextToImagePipeline({ ...loaded.parts, prior: training.finish() });
  if (previous?.parts.prior) disposePrior(previous.parts.prior);
  const seconds = (performance.now() - t0) / 1000;
  setStatus('train-status', `trained ${kind} prior: ${done} steps in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(1)} steps/s), last loss ${trainingLog.at(-1)?.[1].toFixed(4) ?? '-'}; generate with it above ("prior trained in this page")`);
}

async function main(): Promise<void> {
  let loaded: Loaded;
  try {
    await initRuntime();
    const { info } = rt();
    $('adapter').textContent = `WebGPU adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ')} (kernels for "${info.kind}"; ${info.features.join(', ') || 'no optional features'})`;
    loaded = await loadParts();
  } catch (e) {
    const message = (e as Error).message;
    $('adapter').textContent = message.startsWith('WebGPU unavailable') ? message : `WebGPU unavailable: ${message}`;
    $('adapter').className = 'error';
    setStatus('status', '');
    return;
  }
  // Read on the first training run, and kept.
  let pairs: EmbeddingPairs | undefined;
  const trainingPairs = async () => (pairs ??= await loadEmbeddingPairsFrom(loaded.assets, 'embedded-pairs/train'));
  $('train-batch').value = String(loaded.priors.shifted.config.train.batchSize);
  setStatus('status', 'ready');
  setStatus('train-status', 'ready');
  const onClick = (el: Element, job: () => Promise<void>, statusId: string) => (el.onclick = () => void exclusive(job, statusId));
  onClick($('generate'), () => generate(loaded), 'status');
  onClick($('train'), () => train(loaded, trainingPairs), 'train-status');
  $('stop').onclick = () => void (stopRequested = true);
  for (const b of buttons()) b.disabled = false;
}

void main();
