// Host cost per dispatch: the JavaScript that encodes one kernel (code lookup, pipeline, bind group,
// uniforms) with GPU work too small to matter. Setup prints host µs per dispatch, measured with
// performance.now() around encoding only (no sync inside), best and median of 15 runs; the table's time is the whole batch on
// the GPU. The kernels are those a training step of a small model issues most.
import { binary, DeviceArray, matmul, rt, sum } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';

const OPS_PER_RUN = 200;

function hostCase(shape: string, make: () => { op(): void; dispose(): void }): BenchCase {
  return {
    kernel: 'dispatch',
    shape: `${shape} ×${OPS_PER_RUN}`,
    async setup() {
      const s = make();
      const run = () => {
        for (let i = 0; i < OPS_PER_RUN; i++) s.op();
      };
      run(); // compiles the pipelines
      await rt().sync();
      const samples: number[] = [];
      for (let r = 0; r < 15; r++) {
        const d0 = rt().stats.dispatches;
        const t0 = performance.now();
        run();
        const t1 = performance.now();
        const dispatches = rt().stats.dispatches - d0;
        await rt().sync();
        samples.push(((t1 - t0) * 1000) / dispatches);
      }
      samples.sort((a, b) => a - b);
      // The minimum as well: other processes on the machine only ever add to host time.
      console.log(`dispatch ${shape}: host ${samples[0].toFixed(1)} µs per dispatch at best, ${samples[7].toFixed(1)} median (15 runs of ${OPS_PER_RUN} ops)`);
      return { run, dispose: s.dispose };
    },
  };
}

const ones = (shape: number[]) => DeviceArray.from(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape);

export const cases: BenchCase[] = [
  hostCase('add [64,128]+[128]', () => {
    const a = ones([64, 128]);
    const b = ones([128]);
    return { op: () => binary('add', a, b).dispose(), dispose: () => [a, b].forEach((x) => x.dispose()) };
  }),
  hostCase('sum [64,128] over axis 0', () => {
    const a = ones([64, 128]);
    return { op: () => sum(a, [0]).dispose(), dispose: () => a.dispose() };
  }),
  hostCase('matmul [64,128]·[128,128]', () => {
    const a = ones([64, 128]);
    const b = ones([128, 128]);
    return { op: () => matmul(a, b).dispose(), dispose: () => [a, b].forEach((x) => x.dispose()) };
  }),
];
