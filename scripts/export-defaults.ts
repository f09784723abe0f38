// Copies trained parts of the text → image stack into packages/models/assets/ as the committed
// defaults that `sd sample` and `sd eval-decoder` fall back to (packages/models/src/pipeline/defaults.ts):
//   default-vae/      the VAE run's final/ (F32) + metadata.json (the command, eval.json's metrics)
//   default-decoder/  the decoder run's final/ (F32, EMA weights) + metadata.json (command, oracle metrics)
//   default-prior/{shifted,baseline}.safetensors  the prior checkpoints without optimizer state
//                     (loadPrior reads them), the command and eval metrics added to the metadata.
// F32 throughout: all of it together is under 10 MB, so F16 would save little and change the images.
//
//   pnpm tsx scripts/export-defaults.ts --vae runs/vae --decoder runs/decoder --prior runs/prior \
//     --vae-command "pnpm train:vae" --decoder-command "pnpm train:decoder" --prior-command "pnpm train:prior" \
//     [--oracle runs/decoder/oracle.json --oracle-command "pnpm sd eval-decoder ..."]
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors, writeSafetensors, type SafetensorsInput } from '@sd/io';
import { defaultDecoderDir, defaultPriorPath, defaultVaeDir } from '@sd/models';

const { values: a } = parseArgs({
  options: {
    vae: { type: 'string' }, decoder: { type: 'string' }, prior: { type: 'string' }, oracle: { type: 'string' },
    'vae-command': { type: 'string' }, 'decoder-command': { type: 'string' }, 'prior-command': { type: 'string' }, 'oracle-command': { type: 'string' },
  },
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
function need(path: string): string {
  if (!existsSync(path)) throw new Error(`export-defaults: ${path} does not exist`);
  return path;
}
function requireOption(name: string): string {
  const v = (a as Record<string, string | undefined>)[name];
  if (!v) throw new Error(`export-defaults: --${name} is required with the part it describes`);
  return v;
}

/** A run's final/ diffusers folder, copied file by file, plus metadata.json. */
function exportFolder(runDir: string, to: string, metadata: Record<string, unknown>): void {
  const from = need(join(runDir, 'final'));
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(to, f));
  writeFileSync(join(to, 'metadata.json'), JSON.stringify({ ...metadata, trainConfig: readJson(need(join(runDir, 'config.json'))) }, null, 2) + '\n');
}

if (a.vae) {
  exportFolder(a.vae, defaultVaeDir(), { command: requireOption('vae-command'), eval: readJson(need(join(a.vae, 'eval.json'))) });
}
if (a.decoder) {
  const oracle = a.oracle ? { command: requireOption('oracle-command'), result: readJson(need(a.oracle)) } : null;
  const metrics = readFileSync(need(join(a.decoder, 'metrics.jsonl')), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  exportFolder(a.decoder, defaultDecoderDir(), { command: requireOption('decoder-command'), lastLogged: metrics.at(-1), oracle });
}
if (a.prior) {
  const command = requireOption('prior-command');
  const evaluation = existsSync(join(a.prior, 'eval.json')) ? readJson(join(a.prior, 'eval.json')) : null;
  for (const kind of ['shifted', 'baseline'] as const) {
    const file = readSafetensors(need(join(a.prior, kind, 'checkpoint.safetensors')));
    const kept = new Map<string, SafetensorsInput>();
    // The optimizer state is two thirds of the file and is only needed to resume training.
    for (const [name, t] of file.tensors) if (!name.startsWith('optim.')) kept.set(name, { shape: t.shape, data: t.data as SafetensorsInput['data'] });
    const to = defaultPriorPath(kind);
    mkdirSync(join(to, '..'), { recursive: true });
    writeSafetensors(to, kept, { ...file.metadata, command, eval: JSON.stringify(evaluation?.results?.[kind] ?? null) });
  }
}
for (const p of [defaultVaeDir(), defaultDecoderDir(), join(defaultPriorPath('shifted'), '..')]) {
  if (!existsSync(p)) continue;
  const bytes = readdirSync(p).reduce((s, f) => s + statSync(join(p, f)).size, 0);
  console.log(`${p}: ${(bytes / 1e6).toFixed(2)} MB`);
}
