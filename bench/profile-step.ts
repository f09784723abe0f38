// Where a training step's GPU time goes, kernel by kernel: the step is recorded (after one eager
// step), then replayed once with a compute pass per dispatch and a timestamp pair per pass, and the
// per-dispatch times are summed by kernel name. Separate passes add a little time per dispatch
// (each pass is a synchronisation point), so the total is compared with the same replay timed
// as one stream in the same run.
//
//   pnpm tsx bench/profile-step.ts prior|transformer|conv|decoder
import { PRIOR_CONFIGS } from '@sd/models';
import { record } from '@sd/autograd';
import { initRuntime, rt } from '@sd/kernels';
import { convStep, transformerStep } from './cases/autograd.ts';
import { tinyDecoder } from './cases/decoder.ts';
import { priorStep } from './cases/prior.ts';
import { PassTimer } from './timer.ts';

const STEPS: Record<string, () => { run(): void; dispose(): void }> = {
  prior: () => priorStep({ ...PRIOR_CONFIGS.tiny, embedDim: 64 }, 64),
  transformer: () => {
    const s = transformerStep();
    return { run: s.step, dispose: s.dispose };
  },
  conv: () => {
    const s = convStep();
    return { run: s.step, dispose: s.dispose };
  },
  decoder: () => {
    const s = tinyDecoder(true);
    return { run: s.step, dispose: s.dispose };
  },
};

const name = process.argv[2] ?? 'prior';
const make = STEPS[name];
if (!make) throw new Error(`profile-step: unknown step "${name}" (one of ${Object.keys(STEPS).join(', ')})`);
const runtime = await initRuntime();
if (!runtime.hasFeature('timestamp-query')) throw new Error('profile-step: this adapter has no timestamp queries');
const step = make();
step.run();
const recorded = record(() => step.run());
const dispatches = recorded.dispatches;

// The replay as one stream (its usual form), median of 5.
const timer = PassTimer.create()!;
const whole: number[] = [];
for (let i = 0; i < 6; i++) whole.push((await timer.time(() => recorded.run())) ?? NaN);
whole.shift();
whole.sort((a, b) => a - b);

// One pass per dispatch, each with its own timestamps; the names come from the recording's order.
const device = runtime.device;
const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * dispatches });
let next = 0;
await runtime.sync();
runtime.passPerDispatch = true;
runtime.passDescriptor = () => {
  const writes = { querySet, beginningOfPassWriteIndex: next, endOfPassWriteIndex: next + 1 };
  next += 2;
  return { timestampWrites: writes };
};
try {
  recorded.run();
  runtime.flush();
} finally {
  runtime.passPerDispatch = false;
  runtime.passDescriptor = null;
}
if (next !== 2 * dispatches) throw new Error(`profile-step: ${next / 2} passes for ${dispatches} dispatches`);
const resolve = device.createBuffer({ size: next * 8, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
const encoder = device.createCommandEncoder();
encoder.resolveQuerySet(querySet, 0, next, resolve, 0);
const readback = new BigUint64Array(await readBuffer(encoder, resolve, next * 8));
const names = recorded.kernelNames();
const byKernel = new Map<string, { count: number; ms: number }>();
let total = 0;
for (let i = 0; i < dispatches; i++) {
  const ms = Number(readback[2 * i + 1] - readback[2 * i]) / 1e6;
  total += ms;
  const entry = byKernel.get(names[i]) ?? { count: 0, ms: 0 };
  entry.count++;
  entry.ms += ms;
  byKernel.set(names[i], entry);
}
console.log(`${name} step: ${dispatches} dispatches; replayed as one stream ${whole[2].toFixed(1)} ms (GPU, median of 5); kernels alone ${total.toFixed(1)} ms`);
console.log('| kernel | dispatches | ms | share |\n| --- | --- | --- | --- |');
for (const [kernel, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`| ${kernel} | ${e.count} | ${e.ms.toFixed(2)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
}
recorded.dispose();
step.dispose();
timer.destroy();
querySet.destroy();

async function readBuffer(e: GPUCommandEncoder, src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const dst = device.createBuffer({ size: bytes, usage: 0x0001 /* MAP_READ */ | 0x0008 /* COPY_DST */ });
  e.copyBufferToBuffer(src, 0, dst, 0, bytes);
  device.queue.submit([e.finish()]);
  await runtime.wait(dst.mapAsync(0x0001));
  const out = dst.getMappedRange().slice(0);
  dst.unmap();
  dst.destroy();
  return out;
}
