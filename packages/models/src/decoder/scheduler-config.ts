// Reading a decoder folder's scheduler_config.json from disk: the schedule and prediction_type its
// UNet was trained with (a page reads it through a loader: sample.ts's loadDecoderSchedulerConfig).
import { existsSync, join, readFileSync } from '#host';
import { parseSchedulerConfig } from '../diffusion/config.ts';
import { SCHEDULER_CONFIG_NAME } from '../io/diffusers.ts';

/** A decoder folder's scheduler_config.json (written beside its weights by the trainer), parsed. */
export function readDecoderSchedulerConfig(decoderDir: string): Record<string, unknown> {
  const file = join(decoderDir, SCHEDULER_CONFIG_NAME);
  if (!existsSync(file)) throw new Error(`${decoderDir}: no ${SCHEDULER_CONFIG_NAME} beside the decoder's weights (its training schedule and prediction_type; \`pnpm train:decoder\` writes one into final/)`);
  try {
    return parseSchedulerConfig(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}
