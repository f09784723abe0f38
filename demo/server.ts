// The demo's server: bundles demo/page.ts for the browser and serves it with the committed models
// (packages/models/assets/ at /assets/) on localhost. `pnpm demo` runs demo/main.ts, which starts it.
import { join } from 'node:path';
import { pageScript, ROOT, servePage, type PageServer } from '../scripts/page.ts';

export const DEMO_HTML = `<!doctype html>
<meta charset="utf-8">
<title>shifted diffusion on WebGPU</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2em; max-width: 56em; }
  .error { color: #b00020; }
  label { margin-right: 1em; }
  #images canvas { width: 192px; height: 192px; image-rendering: pixelated; margin: 0.5em 0.5em 0 0; border: 1px solid #ccc; }
  input[type=number] { width: 5em; }
  .stages progress { width: 8em; }
</style>
<h1>Text → image on your GPU</h1>
<p id="adapter">starting WebGPU …</p>
<p>
  <label>caption <input id="caption" size="40" value="a large red star in the top left corner"></label>
  <label>arm <select id="arm"><option value="shifted">shifted prior</option><option value="baseline">baseline prior</option><option value="none">text embedding direct</option><option value="trained">prior trained in this page</option></select></label>
</p>
<p>
  <label>images <input id="count" type="number" min="1" max="8" value="4"></label>
  <label>DDIM steps <input id="steps" type="number" min="1" max="100" value="25"></label>
  <label>seed <input id="seed" type="number" value="0"></label>
  <button id="generate" disabled>Generate</button>
</p>
<p id="status"></p>
<p class="stages">
  <label>text <progress id="progress-text" max="1" value="0"></progress></label>
  <label>prior <progress id="progress-prior" max="1" value="0"></progress></label>
  <label>decoder <progress id="progress-decoder" max="1" value="0"></progress></label>
  <label>VAE <progress id="progress-vae" max="1" value="0"></progress></label>
</p>
<div id="images"></div>
<h2>Train a prior in this page</h2>
<p>The committed prior's settings on the committed embedded pairs (the main job's data), on your GPU.
A small GPU (or Chromium's CPU fallback, SwiftShader) trains faster with a smaller batch.</p>
<p>
  <label>prior <select id="train-kind"><option value="shifted">shifted</option><option value="baseline">baseline</option></select></label>
  <label>steps <input id="train-steps" type="number" min="1" max="5000" value="300"></label>
  <label>batch <input id="train-batch" type="number" min="1" max="1024" value="64"></label>
  <button id="train" disabled>Train</button>
  <button id="stop" disabled>Stop</button>
</p>
<p id="train-status"></p>
<div id="loss-plot"></div>
<script type="module" src="/page.js"></script>
`;

/** Serves the demo on `port` (0: any free one). */
export async function serveDemo(port: number): Promise<PageServer> {
  return servePage(await pageScript('demo/page.ts'), { html: DEMO_HTML, port, files: [['assets', join(ROOT, 'packages/models/assets')]] });
}
