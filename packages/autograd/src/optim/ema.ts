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

  constructor(
    readonly params: Tensor[],
    private config: EMAConfig = {},
  ) {
    this.shadow = params.map((p) => new Tensor(K.binary('mul', p.data, 1)).keep());
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
    this.optimizationStep++;
    const d = this.decay();
    this.shadow.forEach((s, i) => {
      s.assign(K.mapElementwise('ema_update', 'v0 - (1.0 - v2) * (v0 - v1)', [s.data, this.params[i].data, d]));
    });
  }

  /** Copies the averaged weights into the parameters (e.g. for evaluation or export). */
  copyTo(params: Tensor[] = this.params): void {
    params.forEach((p, i) => p.assign(K.binary('mul', this.shadow[i].data, 1)));
  }

  dispose(): void {
    for (const s of this.shadow) s.dispose();
  }
}

export type { DeviceArray };
