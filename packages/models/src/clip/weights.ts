// Loading real CLIP weights: OpenAI's .pt files (TorchScript archives, or torch.save'd state dicts)
// and Hugging Face CLIPModel checkpoints (safetensors, or pytorch_model.bin), all mapped onto OpenAI's
// names, with the config inferred from the shapes.
import { nn } from '@sd/autograd';
import { readSafetensors, readTorchCheckpoint } from '@sd/io';
import { closeSync, openSync, readSync, statSync } from '#host';
import { inferClipConfig, type InferOptions } from './config.ts';
import { CLIP } from './model.ts';
import { ClipTextEncoder } from './text.ts';

type HostTensor = nn.HostTensor;

export type ClipWeightFormat = 'torchscript' | 'torch-pickle' | 'safetensors';
export type ClipNaming = 'openai' | 'huggingface';

export interface ClipStateDict {
  /** Tensors under OpenAI's names (`visual.conv1.weight`, `transformer.resblocks.0.attn.in_proj_weight`, …). */
  state: Map<string, HostTensor>;
  format: ClipWeightFormat;
  /** Names the checkpoint used. */
  naming: ClipNaming;
  /** Entries dropped as non-weights (OpenAI's input_resolution/context_length/vocab_size, HF's position_ids). */
  dropped: string[];
}

/** Metadata entries of OpenAI's TorchScript files (build_model deletes them too). */
const OPENAI_METADATA = new Set(['input_resolution', 'context_length', 'vocab_size']);

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/** safetensors: a u64 header length (within the file), then a JSON object. */
function isSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 10) return false;
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  return n > 1 && n <= size - 8 && head[8] === 0x7b; // '{'
}

function readHead(path: string, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const out = new Uint8Array(length);
    return out.subarray(0, readSync(fd, out, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Reads the raw tensors of a checkpoint (path or bytes), whatever its container. */
function readContainer(source: string | Uint8Array, label: string): { tensors: Map<string, HostTensor>; format: ClipWeightFormat } {
  // Sniff the first bytes only: the readers take the path and read what they need (OpenAI's .pt are 300+ MB).
  let head: Uint8Array;
  try {
    head = typeof source === 'string' ? readHead(source, 16) : source.subarray(0, 16);
  } catch (e) {
    throw new Error(`${label}: cannot read (${(e as Error).message})`);
  }
  const size = typeof source === 'string' ? statSync(source).size : source.length;
  if (isZip(head)) {
    const ck = readTorchCheckpoint(source, { label });
    return { tensors: ck.tensors as Map<string, HostTensor>, format: ck.format === 'torchscript' ? 'torchscript' : 'torch-pickle' };
  }
  if (isSafetensors(head, size)) return { tensors: readSafetensors(source, { label }).tensors as Map<string, HostTensor>, format: 'safetensors' };
  const bytes = head;
  if (bytes.length >= 2 && bytes[0] === 0x80) {
    throw new Error(`${label}: a legacy (pre-1.6, non-zip) PyTorch pickle; re-save it with torch.save in the zip format`);
  }
  throw new Error(`${label}: not a CLIP checkpoint (neither a PyTorch zip/TorchScript archive nor a safetensors file)`);
}

function transposeHost(t: HostTensor, name: string, label: string): HostTensor {
  if (t.shape.length !== 2) throw new Error(`${label}: ${name} should be a matrix, has shape [${t.shape.join(', ')}]`);
  const [r, c] = t.shape;
  const out = new (t.data.constructor as Float32ArrayConstructor)(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

function concatRows(parts: HostTensor[]): HostTensor {
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { shape: [parts.reduce((n, p) => n + p.shape[0], 0), ...parts[0].shape.slice(1)], data };
}

// Hugging Face CLIPModel → OpenAI, for everything except q/k/v (merged below) and the transposed projections.
const HF_RENAMES: [RegExp, string][] = [
  [/^text_model\.embeddings\.token_embedding\.weight$/, 'token_embedding.weight'],
  [/^text_model\.embeddings\.position_embedding\.weight$/, 'positional_embedding'],
  [/^text_model\.final_layer_norm\./, 'ln_final.'],
  [/^text_model\.encoder\.layers\.(\d+)\./, 'transformer.resblocks.$1.'],
  [/^vision_model\.embeddings\.class_embedding$/, 'visual.class_embedding'],
  [/^vision_model\.embeddings\.patch_embedding\.weight$/, 'visual.conv1.weight'],
  [/^vision_model\.embeddings\.position_embedding\.weight$/, 'visual.positional_embedding'],
  [/^vision_model\.pre_layrnorm\./, 'visual.ln_pre.'],
  [/^vision_model\.post_layernorm\./, 'visual.ln_post.'],
  [/^vision_model\.encoder\.layers\.(\d+)\./, 'visual.transformer.resblocks.$1.'],
  [/\.self_attn\.out_proj\./, '.attn.out_proj.'],
  [/\.layer_norm1\./, '.ln_1.'],
  [/\.layer_norm2\./, '.ln_2.'],
  [/\.mlp\.fc1\./, '.mlp.c_fc.'],
  [/\.mlp\.fc2\./, '.mlp.c_proj.'],
];

/** Maps a Hugging Face CLIPModel state dict onto OpenAI's names (unknown names pass through unchanged). */
export function fromHuggingFaceNames(hf: Map<string, HostTensor>, label = 'checkpoint'): { state: Map<string, HostTensor>; dropped: string[] } {
  const state = new Map<string, HostTensor>();
  const dropped: string[] = [];
  const qkv = new Map<string, Partial<Record<'q' | 'k' | 'v', HostTensor>>>();
  for (const [name, t] of hf) {
    if (/(^|\.)position_ids$/.test(name)) {
      dropped.push(name);
      continue;
    }
    if (name === 'text_projection.weight') {
      state.set('text_projection', transposeHost(t, name, label));
      continue;
    }
    if (name === 'visual_projection.weight') {
      state.set('visual.proj', transposeHost(t, name, label));
      continue;
    }
    let mapped = name;
    for (const [pattern, replacement] of HF_RENAMES) mapped = mapped.replace(pattern, replacement);
    const split = /^(.*)\.self_attn\.([qkv])_proj\.(weight|bias)$/.exec(mapped);
    if (split) {
      const key = `${split[1]}.attn.in_proj_${split[3]}`;
      const parts = qkv.get(key) ?? {};
      parts[split[2] as 'q' | 'k' | 'v'] = t;
      qkv.set(key, parts);
      continue;
    }
    state.set(mapped, t);
  }
  for (const [key, parts] of qkv) {
    const missing = (['q', 'k', 'v'] as const).filter((p) => !parts[p]);
    if (missing.length) throw new Error(`${label}: ${key} needs q, k and v projections; ${missing.join(', ')} missing`);
    state.set(key, concatRows([parts.q!, parts.k!, parts.v!]));
  }
  return { state, dropped };
}

/**
 * Reads a CLIP checkpoint (path or bytes) into OpenAI names: OpenAI .pt (TorchScript or state dict,
 * fp16 widened to f32) or Hugging Face CLIPModel (safetensors or pytorch_model.bin). The naming is
 * detected from the keys.
 */
export function readClipStateDict(source: string | Uint8Array, options: { label?: string } = {}): ClipStateDict {
  const label = options.label ?? (typeof source === 'string' ? source : '<buffer>');
  const { tensors, format } = readContainer(source, label);
  const names = [...tensors.keys()];
  if (names.some((n) => n.startsWith('text_model.') || n.startsWith('vision_model.'))) {
    const { state, dropped } = fromHuggingFaceNames(tensors, label);
    return { state, format, naming: 'huggingface', dropped };
  }
  const state = new Map<string, HostTensor>();
  const dropped: string[] = [];
  for (const [name, t] of tensors) {
    if (OPENAI_METADATA.has(name)) dropped.push(name);
    else state.set(name, { shape: t.shape, data: t.data });
  }
  return { state, format, naming: 'openai', dropped };
}

export interface LoadClipOptions extends InferOptions {
  label?: string;
}

/** Builds a CLIP of the inferred size and loads the state dict strictly (any missing/extra/mis-shaped name throws). */
export function clipFromStateDict(state: Map<string, HostTensor>, options: LoadClipOptions = {}): CLIP {
  const label = options.label ?? 'CLIP state dict';
  const config = inferClipConfig(state, options, label);
  const model = new CLIP(config);
  try {
    model.loadStateDict(state, { source: label });
  } catch (e) {
    disposeModule(model);
    throw e;
  }
  return model.eval();
}

/** Loads a CLIP model from an OpenAI .pt or a Hugging Face CLIPModel checkpoint, in eval mode. */
export function loadClip(source: string | Uint8Array, options: LoadClipOptions = {}): CLIP {
  const label = options.label ?? (typeof source === 'string' ? source : '<buffer>');
  return clipFromStateDict(readClipStateDict(source, { label }).state, { ...options, label });
}

/** Loads only the text tower of a CLIP checkpoint (every `visual.*` tensor and `logit_scale` are skipped). */
export function loadClipTextEncoder(source: string | Uint8Array, options: LoadClipOptions = {}): ClipTextEncoder {
  const label = options.label ?? (typeof source === 'string' ? source : '<buffer>');
  const { state } = readClipStateDict(source, { label });
  const config = inferClipConfig(state, options, label);
  const text = new Map([...state].filter(([name]) => !name.startsWith('visual.') && name !== 'logit_scale'));
  const model = new ClipTextEncoder(config.text, config.embedDim);
  try {
    model.loadStateDict(text, { source: label });
  } catch (e) {
    disposeModule(model);
    throw e;
  }
  return model.eval();
}

/** Frees every parameter and buffer of a module (`model.dispose()`). */
export function disposeModule(model: nn.Module): void {
  model.dispose();
}
