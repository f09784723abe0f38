// diffusers model and pipeline folders: config.json, the weight layouts (single/sharded safetensors,
// PyTorch .bin from test/fixtures/gen_diffusers_bin.py), writing, and model_index.json resolution.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nn } from '@sd/autograd';
import { parseSafetensorsHeader, readSafetensors, writeSafetensors, type SafetensorsInput } from '@sd/io';
import {
  addVariant, hostStateDict, readDiffusersConfig, readDiffusersWeights, resolveModelFolder, resolvePipelineFolder, writeDiffusersFolder,
} from '@sd/models';

const FIXTURES = join(import.meta.dirname, '../fixtures/diffusers');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: number[] }>;

const scratch = mkdtempSync(join(tmpdir(), 'diffusers-io-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
const freshDir = (name: string) => join(scratch, `${name}-${counter++}`);

/** A small state dict with values that are not exact in float16 (so F16 storage is visible). */
function sampleState(): Map<string, nn.HostTensor> {
  const ramp = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + scale) * scale);
  return new Map([
    ['conv_in.weight', { shape: [4, 2, 3, 3], data: ramp(72, 0.3) }],
    ['conv_in.bias', { shape: [4], data: ramp(4, 2.5) }],
    ['mid_block.attentions.0.to_q.weight', { shape: [3, 5], data: ramp(15, 100) }],
  ]);
}
const CONFIG = { _class_name: 'UNet2DConditionModel', in_channels: 2, block_out_channels: [4] };

/** Writes `dir/config.json` and a safetensors file per shard plus the index that maps names to shards. */
function writeShardedFolder(dir: string, shards: Record<string, Map<string, nn.HostTensor>>, weightMap: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  for (const [file, tensors] of Object.entries(shards)) writeSafetensors(join(dir, file), tensors as Map<string, SafetensorsInput>);
  writeFileSync(join(dir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}

function splitState(): { a: Map<string, nn.HostTensor>; b: Map<string, nn.HostTensor>; weightMap: Record<string, string> } {
  const [first, ...rest] = [...sampleState()];
  const weightMap = Object.fromEntries([[first![0], 'part-1.safetensors'], ...rest.map(([n]) => [n, 'part-2.safetensors'])]);
  return { a: new Map([first!]), b: new Map(rest), weightMap };
}

describe('writeDiffusersFolder → readDiffusersWeights', () => {
  it('round-trips float32 exactly and writes a diffusers-style config.json', () => {
    const dir = freshDir('f32');
    const state = sampleState();
    writeDiffusersFolder(join(dir, 'nested'), CONFIG, state);
    const { state: back, files, format } = readDiffusersWeights(join(dir, 'nested'));
    expect(format).toBe('safetensors');
    expect(files).toEqual([join(dir, 'nested', 'diffusion_pytorch_model.safetensors')]);
    expect([...back.keys()].sort()).toEqual([...state.keys()].sort());
    for (const [name, t] of state) {
      expect(back.get(name)!.shape, name).toEqual(t.shape);
      expect(back.get(name)!.data, name).toEqual(t.data);
    }
    const text = readFileSync(join(dir, 'nested', 'config.json'), 'utf8');
    // Sorted keys, 2-space indent, trailing newline: what diffusers' to_json_string produces.
    expect(text.startsWith('{\n  "_class_name": "UNet2DConditionModel",\n  "_diffusers_version": "0.30.0",\n  "block_out_channels": [')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    const { config } = readDiffusersConfig(join(dir, 'nested'), { expectedClass: 'UNet2DConditionModel' });
    expect(config).toEqual({ ...CONFIG, _diffusers_version: '0.30.0' });
    expect(readSafetensors(files[0]!).metadata).toEqual({ format: 'pt' });
  });

  it('keeps the caller\'s _diffusers_version and metadata', () => {
    const dir = freshDir('meta');
    writeDiffusersFolder(dir, { ...CONFIG, _diffusers_version: '0.21.4' }, sampleState(), { metadata: { step: '7' } });
    expect(readDiffusersConfig(dir).config['_diffusers_version']).toBe('0.21.4');
    expect(readSafetensors(join(dir, 'diffusion_pytorch_model.safetensors')).metadata).toEqual({ step: '7', format: 'pt' });
  });

  it('stores F16 when asked: the file says F16, values within half precision', () => {
    const dir = freshDir('f16');
    const state = sampleState();
    writeDiffusersFolder(dir, CONFIG, state.entries(), { dtype: 'F16' });
    const bytes = readFileSync(join(dir, 'diffusion_pytorch_model.safetensors'));
    expect(parseSafetensorsHeader(bytes).entries.map((e) => e.dtype)).toEqual(['F16', 'F16', 'F16']);
    const back = readDiffusersWeights(dir).state;
    for (const [name, t] of state) {
      const got = back.get(name)!.data;
      expect(got).toBeInstanceOf(Float32Array);
      let inexact = 0;
      t.data.forEach((v, i) => {
        // Round-to-nearest float16: relative error ≤ 2^-11 for normal values.
        expect(Math.abs(got[i]! - v), `${name}[${i}]`).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
        if (got[i] !== v) inexact++;
      });
      expect(inexact, `${name}: values really were rounded`).toBeGreaterThan(0);
    }
  });

  it('refuses F16 for values beyond float16 range, integer tensors and configs without _class_name', () => {
    const big = new Map([['w', { shape: [2], data: new Float32Array([1, 70000]) }]]);
    expect(() => writeDiffusersFolder(freshDir('big'), CONFIG, big, { dtype: 'F16' })).toThrow(/tensor "w" shape \[2\] holds 70000 at index 1, beyond float16/);
    const ints = new Map([['ids', { shape: [2], data: new Int32Array([1, 2]) }]]);
    expect(() => writeDiffusersFolder(freshDir('int'), CONFIG, ints)).toThrow(/tensor "ids" is not float32/);
    expect(() => writeDiffusersFolder(freshDir('nocls'), { in_channels: 2 }, sampleState())).toThrow(/config needs a string _class_name/);
  });

  it('removes a stale shard index and shards, which diffusers would prefer over the new file', () => {
    const dir = freshDir('stale');
    const { a, b, weightMap } = splitState();
    writeShardedFolder(dir, { 'diffusion_pytorch_model-00001-of-00002.safetensors': a, 'diffusion_pytorch_model-00002-of-00002.safetensors': b },
      Object.fromEntries(Object.entries(weightMap).map(([n, f]) => [n, f === 'part-1.safetensors' ? 'diffusion_pytorch_model-00001-of-00002.safetensors' : 'diffusion_pytorch_model-00002-of-00002.safetensors'])));
    expect(readDiffusersWeights(dir).format).toBe('sharded-safetensors');
    writeDiffusersFolder(dir, CONFIG, sampleState());
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'diffusion_pytorch_model.safetensors']);
  });

  it('hostStateDict reads live module tensors for writing', async () => {
    const layer = new nn.Linear(3, 2);
    const host = await hostStateDict(layer.stateDict());
    const dir = freshDir('module');
    writeDiffusersFolder(dir, { _class_name: 'Linear' }, host);
    const back = readDiffusersWeights(dir).state;
    expect(back.get('weight')!.shape).toEqual([2, 3]);
    expect(back.get('weight')!.data).toEqual(await layer.stateDict().get('weight')!.read());
    expect(back.get('bias')!.data).toEqual(await layer.stateDict().get('bias')!.read());
    for (const t of layer.stateDict().values()) t.dispose();
  });
});

describe('readDiffusersWeights layouts and errors', () => {
  it('loads the union of a sharded safetensors folder', () => {
    const dir = freshDir('sharded');
    const { a, b, weightMap } = splitState();
    writeShardedFolder(dir, { 'part-1.safetensors': a, 'part-2.safetensors': b }, weightMap);
    const { state, files, format } = readDiffusersWeights(dir);
    expect(format).toBe('sharded-safetensors');
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['diffusion_pytorch_model.safetensors.index.json', 'part-1.safetensors', 'part-2.safetensors']);
    for (const [name, t] of sampleState()) expect(state.get(name)?.data, name).toEqual(t.data);
    expect(state.size).toBe(3);
  });

  it('prefers the single safetensors file over an index', () => {
    const dir = freshDir('prefer');
    const { a, b, weightMap } = splitState();
    writeShardedFolder(dir, { 'part-1.safetensors': a, 'part-2.safetensors': b }, weightMap);
    writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), a as Map<string, SafetensorsInput>);
    expect(readDiffusersWeights(dir)).toMatchObject({ format: 'safetensors' });
    expect(readDiffusersWeights(dir).state.size).toBe(1);
  });

  it('names a missing shard, a tensor in the wrong shard, an unlisted tensor and a path outside the folder', () => {
    const { a, b, weightMap } = splitState();
    const missing = freshDir('missing-shard');
    writeShardedFolder(missing, { 'part-1.safetensors': a }, weightMap);
    expect(() => readDiffusersWeights(missing)).toThrow(/index\.json: shard file missing from .*: part-2\.safetensors \(2 tensors, e\.g\. "conv_in\.bias"\)/);

    const wrong = freshDir('wrong-shard');
    // conv_in.bias is stored in part-1 but the index assigns it to part-2.
    const [bias] = [...b];
    writeShardedFolder(wrong, { 'part-1.safetensors': new Map([...a, bias!]), 'part-2.safetensors': new Map([...b].slice(1)) }, weightMap);
    expect(() => readDiffusersWeights(wrong)).toThrow(/part-1\.safetensors holds tensor "conv_in\.bias", which .*index\.json assigns to part-2\.safetensors/);

    const unlisted = freshDir('unlisted');
    const { 'conv_in.bias': _dropped, ...partialMap } = weightMap;
    writeShardedFolder(unlisted, { 'part-1.safetensors': a, 'part-2.safetensors': b }, partialMap);
    expect(() => readDiffusersWeights(unlisted)).toThrow(/part-2\.safetensors holds tensor "conv_in\.bias", which .*index\.json does not list/);

    const absent = freshDir('absent');
    writeShardedFolder(absent, { 'part-1.safetensors': a, 'part-2.safetensors': new Map([...b].slice(1)) }, weightMap);
    expect(() => readDiffusersWeights(absent)).toThrow(/assigns tensor "conv_in\.bias" to part-2\.safetensors, but .*part-2\.safetensors does not hold it/);

    const escape = freshDir('escape');
    writeShardedFolder(escape, { 'part-1.safetensors': a }, { 'conv_in.weight': '../part-1.safetensors' });
    expect(() => readDiffusersWeights(escape)).toThrow(/weight_map\["conv_in\.weight"\] names "\.\.\/part-1\.safetensors", not a file in the folder/);
  });

  it('names the file of a truncated safetensors or .bin', () => {
    const dir = freshDir('truncated');
    writeDiffusersFolder(dir, CONFIG, sampleState());
    const file = join(dir, 'diffusion_pytorch_model.safetensors');
    truncateSync(file, readFileSync(file).byteLength - 10);
    expect(() => readDiffusersWeights(dir)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tensor .* run past the data section`));

    const bin = freshDir('truncated-bin');
    cpSync(join(FIXTURES, 'bin-model'), bin, { recursive: true });
    const binFile = join(bin, 'diffusion_pytorch_model.bin');
    truncateSync(binFile, 600);
    expect(() => readDiffusersWeights(bin)).toThrow(binFile);
  });

  it('names the file when Node refuses to read it whole (over 2 GiB; a sparse file, no disk used)', () => {
    const dir = freshDir('huge');
    mkdirSync(dir);
    const file = join(dir, 'diffusion_pytorch_model.safetensors');
    writeFileSync(file, '');
    truncateSync(file, 3 * 2 ** 30);
    expect(() => readDiffusersWeights(dir)).toThrow(`${file}: File size (3221225472) is greater than 2 GiB (Node reads at most 2 GiB at once`);
  });

  it('refuses integer tensors, naming the tensor', () => {
    const dir = freshDir('ints');
    mkdirSync(dir);
    writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), new Map([['position_ids', { shape: [3], data: new Int32Array([0, 1, 2]) }]]));
    expect(() => readDiffusersWeights(dir)).toThrow(/diffusion_pytorch_model\.safetensors: tensor "position_ids" has integer dtype I32/);
  });

  it('lists the names looked for, and hints at a variant that is there', () => {
    const dir = freshDir('none');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
    expect(() => readDiffusersWeights(dir)).toThrow(
      `${dir}: no diffusers weights (looked for diffusion_pytorch_model.safetensors, diffusion_pytorch_model.safetensors.index.json, diffusion_pytorch_model.bin, diffusion_pytorch_model.bin.index.json)`,
    );
    writeSafetensors(join(dir, 'diffusion_pytorch_model.fp16.safetensors'), sampleState() as Map<string, SafetensorsInput>);
    expect(() => readDiffusersWeights(dir)).toThrow(/found diffusion_pytorch_model\.fp16\.safetensors; for a variant pass \{ variant: 'fp16' \}/);
    expect(readDiffusersWeights(dir, { variant: 'fp16' }).state.size).toBe(3);
    expect(addVariant('diffusion_pytorch_model.safetensors.index.json', 'fp16')).toBe('diffusion_pytorch_model.safetensors.fp16.index.json');
  });

  it('reads PyTorch .bin files (float16 and bfloat16 widened) and their sharded form', () => {
    for (const [folder, format] of [['bin-model', 'bin'], ['sharded-bin-model', 'sharded-bin']] as const) {
      const { state, format: got } = readDiffusersWeights(join(FIXTURES, folder));
      expect(got).toBe(format);
      expect([...state.keys()].sort()).toEqual(Object.keys(expected).sort());
      for (const [name, e] of Object.entries(expected)) {
        const t = state.get(name)!;
        expect(t.data, `${folder} ${name}`).toBeInstanceOf(Float32Array);
        expect(t.shape, `${folder} ${name}`).toEqual(e.shape);
        expect(Array.from(t.data), `${folder} ${name}`).toEqual(e.values);
      }
    }
    expect(Object.values(expected).map((e) => e.dtype).sort()).toEqual(['bfloat16', 'float16', 'float32', 'float32', 'float32']);
  });
});

describe('readDiffusersConfig', () => {
  it('names the folder when config.json is missing, and the file when it is bad or of another class', () => {
    const dir = freshDir('cfg');
    mkdirSync(dir);
    expect(() => readDiffusersConfig(dir)).toThrow(`${dir}: no config.json (not a diffusers model folder)`);
    expect(() => readDiffusersConfig(join(dir, 'nope'))).toThrow(`${join(dir, 'nope')}: no such directory`);
    writeFileSync(join(dir, 'config.json'), '{"_class_name": ');
    expect(() => readDiffusersConfig(dir)).toThrow(new RegExp(`${join(dir, 'config.json')}: not valid JSON`));
    writeFileSync(join(dir, 'config.json'), '[1, 2]');
    expect(() => readDiffusersConfig(dir)).toThrow(`${join(dir, 'config.json')}: expected a JSON object, found an array`);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ _class_name: 'AutoencoderKL', latent_channels: 4 }));
    expect(() => readDiffusersConfig(dir, { expectedClass: 'UNet2DConditionModel' })).toThrow(
      `${join(dir, 'config.json')} says _class_name 'AutoencoderKL', expected UNet2DConditionModel`,
    );
    expect(() => readDiffusersConfig(dir, { expectedClass: ['UNet2DModel', 'UNet2DConditionModel'] })).toThrow(/expected one of UNet2DModel, UNet2DConditionModel/);
    expect(readDiffusersConfig(dir, { expectedClass: ['AutoencoderKL'] }).config['latent_channels']).toBe(4);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ latent_channels: 4 }));
    expect(() => readDiffusersConfig(dir, { expectedClass: 'AutoencoderKL' })).toThrow(/config\.json has no _class_name, expected AutoencoderKL/);
  });
});

describe('pipeline folders', () => {
  /** A Stable Diffusion-like pipeline: unet, vae, scheduler present; text_encoder listed but not downloaded. */
  function fabricatePipeline(): string {
    const root = freshDir('pipeline');
    mkdirSync(root);
    writeFileSync(join(root, 'model_index.json'), JSON.stringify({
      _class_name: 'StableDiffusionPipeline',
      _diffusers_version: '0.6.0',
      feature_extractor: ['transformers', 'CLIPImageProcessor'],
      requires_safety_checker: true,
      safety_checker: [null, null],
      scheduler: ['diffusers', 'PNDMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    }));
    writeDiffusersFolder(join(root, 'unet'), CONFIG, sampleState());
    writeDiffusersFolder(join(root, 'vae'), { _class_name: 'AutoencoderKL' }, sampleState());
    mkdirSync(join(root, 'scheduler'));
    writeFileSync(join(root, 'scheduler', 'scheduler_config.json'), JSON.stringify({ _class_name: 'PNDMScheduler', num_train_timesteps: 1000 }));
    return root;
  }

  it('resolves components from model_index.json', () => {
    const root = fabricatePipeline();
    const p = resolvePipelineFolder(root);
    expect(p.root).toBe(root);
    expect(p.unet).toBe(join(root, 'unet'));
    expect(p.vae).toBe(join(root, 'vae'));
    expect(p.scheduler).toBe(join(root, 'scheduler', 'scheduler_config.json'));
    expect(p.textEncoder).toBeUndefined();
    expect(p.missing.sort()).toEqual(['feature_extractor', 'text_encoder']);
    expect(p.components).toEqual({
      feature_extractor: ['transformers', 'CLIPImageProcessor'],
      scheduler: ['diffusers', 'PNDMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    });
    expect(p.modelIndex['requires_safety_checker']).toBe(true);
  });

  it('resolveModelFolder takes a model folder or a pipeline folder, and explains anything else', () => {
    const root = fabricatePipeline();
    expect(resolveModelFolder(root, 'unet')).toBe(join(root, 'unet'));
    expect(resolveModelFolder(join(root, 'vae'), 'unet')).toBe(join(root, 'vae')); // a model folder is taken as given
    expect(readDiffusersConfig(resolveModelFolder(root, 'vae'), { expectedClass: 'AutoencoderKL' }).config['_class_name']).toBe('AutoencoderKL');
    expect(() => resolveModelFolder(root, 'text_encoder')).toThrow(`${join(root, 'text_encoder')}: no config.json, though model_index.json lists text_encoder as transformers.CLIPTextModel`);
    expect(() => resolveModelFolder(root, 'prior')).toThrow(`${join(root, 'model_index.json')} lists no component 'prior' (it lists feature_extractor, scheduler, text_encoder, unet, vae)`);
    expect(() => resolveModelFolder(join(root, 'scheduler', '..', 'missing'), 'unet')).toThrow(/missing: no such directory/);
    const empty = freshDir('empty');
    mkdirSync(empty);
    expect(() => resolveModelFolder(empty, 'unet')).toThrow(`${empty}: neither a diffusers model folder (no config.json) nor a pipeline folder (no model_index.json)`);
    expect(() => resolvePipelineFolder(empty)).toThrow(`${empty}: no model_index.json (not a diffusers pipeline folder)`);
    expect(() => readDiffusersConfig(root)).toThrow(/no config\.json \(not a diffusers model folder\); it is a pipeline folder/);
  });

  it('rejects a malformed component entry, naming model_index.json', () => {
    const root = freshDir('bad-index');
    mkdirSync(root);
    writeFileSync(join(root, 'model_index.json'), JSON.stringify({ unet: ['diffusers'] }));
    expect(() => resolvePipelineFolder(root)).toThrow(`${join(root, 'model_index.json')}: "unet" should be [library, class], found ["diffusers"]`);
    copyFileSync(join(FIXTURES, 'expected.json'), join(root, 'model_index.json')); // an object of objects: no components
    expect(resolvePipelineFolder(root).components).toEqual({});
  });
});
