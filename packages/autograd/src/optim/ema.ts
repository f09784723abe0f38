// Exponential moving average of parameters, with diffusers' EMAModel decay schedule.
import * as K from '@sd/kernels';
import { DeviceArray } from '@sd/kernels';
import { Tensor } from '../tensor.ts';

export interface EMAConfig {
  /** Upper bound of the decay (diffusers: 0.9999). */
  decay?: number;
  minDecay?: number;
  updateAfterStep?: number;
  /** Warmup 1 − (1 + step/invGamma)^−power (diffusers' use_ema_warmup); otherwise (1+step)/(10+step). */
  useWarmup?: boolean;
  invGamma?: number;
  power?: number;
}

export class EMA {
  readonly shadow: Tensor[];
  optimizationStep = 0;
  /** The current decay as a 1-element device array: written per update, so a recorded step replays with the current value. */
  private readonly decayOnDevice: DeviceArray;

  constructor(
    readonly params: Tensor[],
    private config: EMAConfig = {},
  ) {
    this.shadow = params.map((p) => new Tensor(K.binary('mul', p.data, 1)).keep());
    this.decayOnDevice = DeviceArray.from([0], [1]);
  }

  /** diffusers' EMAModel.get_decay for the current optimization step. */
  decay(step = this.optimizationStep): number {
    const { decay = 0.9999, minDecay = 0, updateAfterStep = 0, useWarmup = false, invGamma = 1, power = 2 / 3 } = this.config;
    const s = Math.max(0, step - updateAfterStep - 1);
    if (s <= 0) return 0;
    const value = useWarmup ? 1 - (1 + s / invGamma) ** -power : (1 + s) / (10 + s);
    return Math.max(Math.min(value, decay), minDecay);
  }

  /** shadow ← shadow − (1 − decay)·(shadow − param), after each optimizer step. */
  update(): void {
    K.rt().perRun(() => {
      this.optimizationStep++;
      K.rt().upload(this.decayOnDevice.buffer, Float32Array.of(this.decay()));
    });
    // In place (computed, then copied into the shadow's buffer): the shadows keep their buffers,
    // which a recorded step needs.
    this.shadow.forEach((s, i) => {
      const next = K.mapElementwise('ema_update', 'v0 - (1.0 - v2) * (v0 - v1)', [s.data, this.params[i].data, this.decayOnDevice]);
      K.rt().copy(next.buffer, 0, s.data.buffer, 0, next.size * 4);
      next.dispose();
    });
  }

  /** Copies the averaged weights into the parameters (e.g. for evaluation or export). */
  copyTo(params: Tensor[] = this.params): void {
    params.forEach((p, i) => p.assign(K.binary('mul', this.shadow[i].data, 1)));
  }

  dispose(): void {
    for (const s of this.shadow) s.dispose();
    this.decayOnDevice.dispose();
  }
}

export type { DeviceArray };
