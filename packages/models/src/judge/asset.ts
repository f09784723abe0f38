// The committed judge (assets/judge.safetensors, written by `pnpm train:judge --export`): weights
// with their config, the command that made them and the accuracies measured on test renders.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '@sd/io';
import { assetsDir } from '../clip/default.ts';
import { JudgeNet, type JudgeConfig } from './model.ts';

export const judgeAssetPath = (): string => join(assetsDir(), 'judge.safetensors');

/** Loads a judge written by `train:judge --export` (default: the committed one). */
export function loadJudge(path = judgeAssetPath()): JudgeNet {
  if (!existsSync(path)) throw new Error(`${path}: no judge (train and export one with \`pnpm train:judge --export\`)`);
  const file = readSafetensors(path);
  if (file.metadata.format !== 'sd-judge/1') throw new Error(`${path}: not a judge (metadata format ${JSON.stringify(file.metadata.format)})`);
  const judge = new JudgeNet(JSON.parse(file.metadata.config) as JudgeConfig);
  judge.loadStateDict(new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }])), { source: path });
  return judge;
}
