// CLIP encoders against golden outputs of OpenAI's own model code:
//  - modelzoo@0.0.4's random ResidualAttentionBlock and VisionTransformer (test/fixtures/clip-model-modelzoo.json)
//  - tiny ViT and ModifiedResNet CLIPs from PyTorch 1.13 (test/fixtures/gen_clip_fixtures.py), loaded
//    from OpenAI TorchScript archives, a torch.save'd state dict and Hugging Face CLIPModel safetensors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { noGrad, sum, tensor, tidy, type nn, type Tensor } from '@sd/autograd';
import { readSafetensors, serializeSafetensors } from '@sd/io';
import {
  CLIP, CLIP_CONFIGS, MultiCLIP, ResidualAttentionBlock, VisionTransformer, clipFromStateDict, disposeModule, inferClipConfig,
  loadClip, loadClipTextEncoder, readClipStateDict, tokenize,
} from '@sd/models';
import { expectClose } from '../util/close.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const DIR = join(FIXTURES, 'clip');
const meta = JSON.parse(readFileSync(join(DIR, 'meta.json'), 'utf8'));
const ref = readSafetensors(join(DIR, 'reference.safetensors')).tensors;
const modelzoo = JSON.parse(readFileSync(join(FIXTURES, 'clip-model-modelzoo.json'), 'utf8'));

const VIT_HEADS = { visionHeads: meta.vit.vision_heads, textHeads: meta.vit.transformer_heads };
const RN_HEADS = { visionHeads: meta.rn.vision_heads, textHeads: meta.rn.transformer_heads };
/** Golden tolerance: float32 on both sides, different summation orders. */
const TOL = { rtol: 1e-4, atol: 1e-5 };

const refTensor = (name: string) => {
  const t = ref.get(name);
  if (!t) throw new Error(`reference.safetensors has no ${name}`);
  return tensor(t.data, t.shape, { dtype: t.data instanceof Int32Array ? 'i32' : 'f32' });
};
const refValues = (name: string) => ref.get(name)!.data;

function unpack(p: { shape: number[]; f32: string }): { shape: number[]; data: Float32Array } {
  return { shape: p.shape, data: new Float32Array(new Uint8Array(Buffer.from(p.f32, 'base64')).buffer) };
}
const unpackAll = (weights: Record<string, { shape: number[]; f32: string }>) => new Map(Object.entries(weights).map(([k, v]) => [k, unpack(v)]));

/** Runs `fn` without a graph in a tidy scope and reads the tensors it returns. */
async function run<T extends Record<string, Tensor>>(fn: () => T): Promise<Record<keyof T, Float32Array>> {
  const outputs = tidy(() => noGrad(fn));
  const values = {} as Record<keyof T, Float32Array>;
  for (const [k, t] of Object.entries(outputs)) {
    values[k as keyof T] = (await t.read()) as Float32Array;
    t.dispose();
  }
  return values;
}

function withModel<M extends nn.Module, R>(model: M, fn: (m: M) => Promise<R>): Promise<R> {
  return fn(model).finally(() => disposeModule(model));
}

describe('modelzoo golden outputs (OpenAI clip/model.py)', () => {
  it('ResidualAttentionBlock (d_model 8, 2 heads, no mask)', async () => {
    const { d_model: width, n_head: heads } = modelzoo.attn.config;
    await withModel(new ResidualAttentionBlock(width, heads).eval(), async (block) => {
      block.loadStateDict(unpackAll(modelzoo.attn.weights));
      const input = unpack(modelzoo.attn.input);
      const { y } = await run(() => ({ y: block.forward(tensor(input.data, input.shape)) }));
      expectClose(y, unpack(modelzoo.attn.output).data, TOL, 'block');
    });
  });

  it('VisionTransformer (resolution 32, patch 2, width 4, 2 layers, 2 heads)', async () => {
    const c = modelzoo.vit.config;
    const vit = new VisionTransformer({ kind: 'vit', imageResolution: c.input_resolution, patchSize: c.patch_size, width: c.width, layers: c.layers, heads: c.heads }, c.output_dim).eval();
    await withModel(vit, async () => {
      vit.loadStateDict(unpackAll(modelzoo.vit.weights));
      const nhwc = unpack(modelzoo.vit.input);
      const { y } = await run(() => ({ y: vit.forward(tensor(nhwc.data, nhwc.shape).permute([0, 3, 1, 2])) }));
      expectClose(y, unpack(modelzoo.vit.output).data, TOL, 'vit');
    });
  });
});

describe('tiny ViT CLIP (PyTorch 1.13 references)', () => {
  it('reads the three checkpoint forms to the same OpenAI-named tensors', () => {
    const jit = readClipStateDict(join(DIR, 'vit_jit.pt'));
    const pickled = readClipStateDict(join(DIR, 'vit_state_dict.pt'));
    const hf = readClipStateDict(join(DIR, 'vit_hf.safetensors'));
    expect([jit.format, jit.naming]).toEqual(['torchscript', 'openai']);
    expect([pickled.format, pickled.naming]).toEqual(['torch-pickle', 'openai']);
    expect([hf.format, hf.naming]).toEqual(['safetensors', 'huggingface']);
    expect(jit.dropped.sort()).toEqual(['context_length', 'input_resolution', 'vocab_size']);
    expect(hf.dropped.sort()).toEqual(['text_model.embeddings.position_ids', 'vision_model.embeddings.position_ids']);
    const names = [...pickled.state.keys()].sort();
    expect([...jit.state.keys()].sort()).toEqual(names);
    expect([...hf.state.keys()].sort()).toEqual(names);
    for (const name of names) {
      // fp16 in the TorchScript file, float32 elsewhere: the generator rounded those weights through fp16.
      expect(Array.from(jit.state.get(name)!.data), name).toEqual(Array.from(pickled.state.get(name)!.data));
      expect(Array.from(hf.state.get(name)!.data), name).toEqual(Array.from(pickled.state.get(name)!.data));
      expect(hf.state.get(name)!.shape, name).toEqual(pickled.state.get(name)!.shape);
    }
    expect(inferClipConfig(pickled.state, VIT_HEADS)).toEqual(CLIP_CONFIGS['tiny-vit']);
  });

  for (const file of ['vit_jit.pt', 'vit_state_dict.pt', 'vit_hf.safetensors']) {
    it(`image features, text features, token states and logits from ${file}`, async () => {
      await withModel(loadClip(join(DIR, file), VIT_HEADS), async (clip) => {
        expect(clip.training).toBe(false);
        const out = await run(() => {
          const { logitsPerImage, logitsPerText, text } = clip.forward(refTensor('vit.image'), refTensor('vit.text'));
          return { image: clip.encodeImage(refTensor('vit.image')), pooled: text.pooled, tokens: text.tokens, logitsPerImage, logitsPerText };
        });
        expectClose(out.image, refValues('vit.image_features'), TOL, 'image features');
        expectClose(out.pooled, refValues('vit.text_features'), TOL, 'text features');
        expectClose(out.tokens, refValues('vit.text_tokens'), TOL, 'token states');
        expectClose(out.logitsPerImage, refValues('vit.logits_per_image'), TOL, 'logits per image');
        const [ni, nt] = ref.get('vit.logits_per_image')!.shape;
        const transposed = Float32Array.from({ length: ni * nt }, (_, i) => refValues('vit.logits_per_image')[(i % ni) * nt + Math.floor(i / ni)]);
        expectClose(out.logitsPerText, transposed, TOL, 'logits per text');
      });
    });
  }

  it('is causal: shorter id rows give the same states and pooled features', async () => {
    await withModel(loadClip(join(DIR, 'vit_jit.pt'), VIT_HEADS), async (clip) => {
      // Rows 0 and 2 end at positions 5 and 9: their first 10 positions hold everything they pool.
      const ids = refTensor('vit.text');
      const out = await run(() => {
        const short = ids.slice(0, 0, 3, 2).slice(1, 0, 10);
        const full = clip.encodeTextFull(short);
        return { pooled: full.pooled, tokens: full.tokens, encoded: clip.encodeText(short) };
      });
      const e = meta.vit.embed_dim;
      const w = meta.vit.transformer_width;
      const l = meta.vit.context_length;
      const pooled = refValues('vit.text_features');
      const tokens = refValues('vit.text_tokens');
      expectClose(out.pooled, [...pooled.subarray(0, e), ...pooled.subarray(2 * e, 3 * e)], TOL, 'pooled');
      expectClose(out.encoded, out.pooled, { rtol: 0, atol: 0 }, 'encodeText = encodeTextFull().pooled');
      const expected = [0, 2].flatMap((r) => Array.from(tokens.subarray(r * l * w, r * l * w + 10 * w)));
      expectClose(out.tokens, expected, TOL, 'token states');
    });
  });

  it('loads only the text tower', async () => {
    await withModel(loadClipTextEncoder(join(DIR, 'vit_hf.safetensors'), VIT_HEADS), async (text) => {
      expect([...text.stateDict().keys()].some((k) => k.startsWith('visual.'))).toBe(false);
      const out = await run(() => ({ pooled: text.encodeText(refTensor('vit.text')) }));
      expectClose(out.pooled, refValues('vit.text_features'), TOL, 'text features');
    });
  });

  it('gradients reach the image tower and the logit scale', async () => {
    await withModel(loadClip(join(DIR, 'vit_state_dict.pt'), VIT_HEADS), async (clip) => {
      clip.train();
      const grads = await tidy(async () => {
        const { logitsPerImage } = clip.forward(refTensor('vit.image'), refTensor('vit.text'));
        sum(logitsPerImage).backward();
        const read = async (t: Tensor) => Array.from((await t.grad!.read()) as Float32Array);
        return { conv: await read(clip.visual.conv1.weight), scale: await read(clip.logitScale), token: await read(clip.tokenEmbedding.weight) };
      });
      for (const [name, g] of Object.entries(grads)) {
        expect(g.every(Number.isFinite), name).toBe(true);
        expect(g.some((v) => v !== 0), name).toBe(true);
      }
      // d(Σ s·cos)/d log s = Σ logits.
      expectClose(grads.scale, [Array.from(refValues('vit.logits_per_image')).reduce((a, b) => a + b, 0)], TOL, 'logit_scale gradient');
      clip.zeroGrad();
    });
  });
});

describe('tiny ModifiedResNet CLIP (PyTorch 1.13 references)', () => {
  it('stem, image features, text features and logits from the TorchScript archive', async () => {
    const { state, format } = readClipStateDict(join(DIR, 'rn_jit.pt'));
    expect(format).toBe('torchscript');
    expect(inferClipConfig(state, RN_HEADS)).toEqual(CLIP_CONFIGS['tiny-rn']);
    await withModel(clipFromStateDict(state, RN_HEADS), async (clip) => {
      const visual = clip.visual as import('@sd/models').ModifiedResNet;
      const out = await run(() => {
        const { logitsPerImage, text } = clip.forward(refTensor('rn.image'), refTensor('rn.text'));
        return { stem: visual.stem(refTensor('rn.image')), image: clip.encodeImage(refTensor('rn.image')), text: text.pooled, logitsPerImage };
      });
      expectClose(out.stem, refValues('rn.stem'), TOL, 'stem');
      expectClose(out.image, refValues('rn.image_features'), TOL, 'image features');
      expectClose(out.text, refValues('rn.text_features'), TOL, 'text features');
      expectClose(out.logitsPerImage, refValues('rn.logits_per_image'), TOL, 'logits');
    });
  });
});

describe('MultiCLIP', () => {
  it('concatenates per-model unit embeddings (or raw ones)', async () => {
    const a = loadClip(join(DIR, 'vit_jit.pt'), VIT_HEADS);
    const b = loadClip(join(DIR, 'rn_jit.pt'), RN_HEADS);
    try {
      const multi = new MultiCLIP([a, b]);
      expect(multi.embedDim).toBe(32);
      const out = await run(() => ({
        unit: multi.encodeImage([refTensor('vit.image'), refTensor('rn.image')]),
        raw: new MultiCLIP([a, b], { normalize: false }).encodeImage([refTensor('vit.image'), refTensor('rn.image')]),
      }));
      const unit = (x: ArrayLike<number>) => {
        const n = Math.hypot(...Array.from(x));
        return Array.from(x, (v) => v / n);
      };
      const va = refValues('vit.image_features');
      const vb = refValues('rn.image_features');
      const rows = [0, 1].map((r) => [va.subarray(r * 16, r * 16 + 16), vb.subarray(r * 16, r * 16 + 16)]);
      expectClose(out.unit, rows.flatMap(([x, y]) => [...unit(x), ...unit(y)]), TOL, 'normalised');
      expectClose(out.raw, rows.flatMap(([x, y]) => [...x, ...y]), TOL, 'raw');
      expect(() => multi.encodeImage([refTensor('vit.image')])).toThrow(/1 image batches for 2 models/);
    } finally {
      disposeModule(a);
      disposeModule(b);
    }
  });
});

describe('bad input and bad checkpoints', () => {
  it('names wrong image and token shapes', async () => {
    await withModel(loadClip(join(DIR, 'vit_jit.pt'), VIT_HEADS), async (clip) => {
      tidy(() => {
        expect(() => clip.encodeImage(tensor(new Float32Array(3 * 16 * 16), [1, 3, 16, 16]))).toThrow('VisionTransformer: expected images [batch, 3, 32, 32], got [1, 3, 16, 16]');
        expect(() => clip.encodeText(tensor([1, 2, 3], [3], { dtype: 'i32' }))).toThrow('encodeText: expected token ids [batch, length], got shape [3]');
        expect(() => clip.encodeText(tensor(new Int32Array(40), [2, 20], { dtype: 'i32' }))).toThrow('encodeText: 20 tokens per row, but the context length is 16');
        // The real tokenizer's ids (start token 49406) do not fit this tiny vocabulary.
        expect(() => clip.encodeText(tokenize(['a photo'], 16))).toThrow(/token id 49406 \(row 0\) is outside the vocabulary of 96/);
      });
    });
    await withModel(loadClip(join(DIR, 'rn_jit.pt'), RN_HEADS), async (clip) => {
      tidy(() => {
        expect(() => clip.encodeImage(tensor(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]))).toThrow('ModifiedResNet: expected images [batch, 3, 64, 64], got [1, 3, 32, 32]');
      });
    });
  });

  it('refuses files that are not CLIP checkpoints', () => {
    expect(() => readClipStateDict(new TextEncoder().encode('hello, not a model'), { label: 'notes.txt' })).toThrow(
      'notes.txt: not a CLIP checkpoint (neither a PyTorch zip/TorchScript archive nor a safetensors file)',
    );
    expect(() => readClipStateDict(join(DIR, 'missing.pt'))).toThrow(/missing\.pt: cannot read/);
    // A valid PyTorch archive of some other module.
    expect(() => loadClip(join(FIXTURES, 'torch/scripted.pt'))).toThrow(/scripted\.pt: not a CLIP state dict/);
    const truncated = readFileSync(join(DIR, 'vit_jit.pt')).subarray(0, 5000);
    expect(() => loadClip(truncated, { label: 'cut.pt' })).toThrow(/cut\.pt/);
  });

  it('infers heads like OpenAI (width/64) unless told, and says so', () => {
    const { state } = readClipStateDict(join(DIR, 'vit_jit.pt'));
    expect(() => inferClipConfig(state)).toThrow('CLIP state dict: cannot infer vision heads from width 24 (OpenAI uses width/64); pass visionHeads');
    expect(() => inferClipConfig(state, { visionHeads: 3 })).toThrow(/cannot infer text heads from width 24/);
  });

  it('reports missing, unexpected and mis-shaped tensors', () => {
    const base = () => readClipStateDict(join(DIR, 'vit_state_dict.pt')).state;
    const missing = base();
    missing.delete('visual.ln_post.bias');
    expect(() => clipFromStateDict(missing, { ...VIT_HEADS, label: 'm.pt' })).toThrow(/loadStateDict \(m\.pt\): missing 1: visual\.ln_post\.bias/);
    const extra = base();
    extra.set('visual.extra.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => clipFromStateDict(extra, VIT_HEADS)).toThrow(/unexpected 1: visual\.extra\.weight/);
    const misshaped = base();
    misshaped.set('ln_final.bias', { shape: [23], data: new Float32Array(23) });
    expect(() => clipFromStateDict(misshaped, VIT_HEADS)).toThrow(/ln_final\.bias: expected shape \[24\], file has \[23\]/);
    const hf = readSafetensors(join(DIR, 'vit_hf.safetensors')).tensors;
    hf.delete('vision_model.encoder.layers.1.self_attn.k_proj.bias');
    const bytes = serializeSafetensors(new Map([...hf].map(([k, t]) => [k, { shape: t.shape, data: t.data }])));
    expect(() => loadClip(bytes, { ...VIT_HEADS, label: 'hf.safetensors' })).toThrow(
      'hf.safetensors: visual.transformer.resblocks.1.attn.in_proj_bias needs q, k and v projections; k missing',
    );
  });
});

describe('real model sizes', () => {
  // Tensor and parameter counts of OpenAI's architecture (gen_clip_fixtures.py's classes at these sizes):
  // ViT-B/32 302 tensors, 151,277,313 parameters; RN101 795 tensors (BatchNorm buffers included),
  // 119,793,611 elements, 119,688,033 parameters.
  for (const [name, tensors, elements, params] of [
    ['ViT-B/32', 302, 151_277_313, 151_277_313],
    ['RN101', 795, 119_793_611, 119_688_033],
  ] as const) {
    it(`${name} has OpenAI's state-dict layout, and its config is inferred back from the shapes`, () => {
      const clip = CLIP.fromName(name);
      try {
        const state = clip.stateDict();
        expect(state.size).toBe(tensors);
        expect([...state.values()].reduce((n, t) => n + t.size, 0)).toBe(elements);
        expect(clip.numParameters()).toBe(params);
        expect(inferClipConfig(state)).toEqual(CLIP_CONFIGS[name]);
        if (name === 'RN101') {
          expect(state.get('visual.layer1.0.downsample.0.weight')!.shape).toEqual([256, 64, 1, 1]);
          expect(state.get('visual.layer3.22.bn3.running_var')!.shape).toEqual([1024]);
          expect(state.get('visual.attnpool.positional_embedding')!.shape).toEqual([50, 2048]);
        } else {
          expect(state.get('visual.conv1.weight')!.shape).toEqual([768, 3, 32, 32]);
          expect(state.get('transformer.resblocks.11.attn.in_proj_weight')!.shape).toEqual([1536, 512]);
        }
      } finally {
        disposeModule(clip);
      }
    });
  }
});
