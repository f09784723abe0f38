// Host cost per dispatch: the JavaScript that encodes one kernel (code lookup, pipeline, bind group,
// uniforms) with GPU work too small to matter. Setup prints host µs per dispatch, measured with
// performance.now() around encoding only (no sync inside), best and median of 15 runs; the table's time is the whole batch on
// the GPU. The kernels are those a training step of a small model issues most. Each is measured
// eagerly and replayed from a recording of the same 200 ops (what a recorded training step pays).
import { binary, DeviceArray, matmul, rt, sum } from '@sd/kernels';
import type { BenchCase } from '../harness.ts';

const OPS_PER_RUN = 200;

function hostCase(shape: string, make: () => { op(): void; dispose(): void }, variant: 'eager' | 'replayed' = 'eager'): BenchCase {
  return {
    kernel: 'dispatch',
    shape: `${shape} ×${OPS_PER_RUN}`,
    variant,
    reference: variant === 'eager',
    async setup() {
      const s = make();
      const eager = () => {
        for (let i = 0; i < OPS_PER_RUN; i++) s.op();
      };
      eager(); // compiles the pipelines
      let run = eager;
      let dispose = s.dispose;
      if (variant === 'replayed') {
        rt().beginCapture();
        eager();
        const recording = rt().endCapture([]);
        run = () => rt().replay(recording);
        dispose = () => (rt().disposeRecording(recording), s.dispose());
      }
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
      console.log(`dispatch ${shape} (${variant}): host ${samples[0].toFixed(1)} µs per dispatch at best, ${samples[7].toFixed(1)} median (15 runs of ${OPS_PER_RUN} ops)`);
      return { run, dispose };
    },
  };
}

const ones = (shape: number[]) => DeviceArray.from(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape);

const OPS: Array<[string, () => { op(): void; dispose(): void }]> = [
  ['add [64,128]+[128]', () => {
    const a = ones([64, 128]);
    const b = ones([128]);
    return { op: () => binary('add', a, b).dispose(), dispose: () => [a, b].forEach((x) => x.dispose()) };
  }],
  ['sum [64,128] over axis 0', () => {
    const a = ones([64, 128]);
    return { op: () => sum(a, [0]).dispose(), dispose: () => a.dispose() };
  }],
  ['matmul [64,128]·[128,128]', () => {
    const a = ones([64, 128]);
    const b = ones([128, 128]);
    return { op: () => matmul(a, b).dispose(), dispose: () => [a, b].forEach((x) => x.dispose()) };
  }],
];

export const cases: BenchCase[] = OPS.flatMap(([shape, make]) => [hostCase(shape, make), hostCase(shape, make, 'replayed')]);
