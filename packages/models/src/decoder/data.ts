// The decoder's training data: each image's VAE latent (posterior mode × scaling_factor) and its CLIP
// image embedding, computed once and cached in the run directory. The cache records what it was
// computed from (the images, the VAE, the CLIP), and a cache of other inputs is refused, naming what
// changed: training on latents of another VAE, or embeddings of another CLIP, would silently mix two runs.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { noGrad, tensor, tidy, type nn } from '@sd/autograd';
import { readSafetensors, writeSafetensors } from '@sd/io';
import { embedImageRows, embeddingDim, encoderModels, type ImageTextEncoder } from '../clip/embedding-space.ts';
import { MultiCLIP } from '../clip/model.ts';
import { fingerprintImages, imageAt, imageBatch, type ImageSet } from '../vae/images.ts';
import type { AutoencoderKL } from '../vae/model.ts';

/** What the decoder is conditioned on: one CLIP's image embeddings (the default CLIP: 64-d) or a MultiCLIP's. */
export type DecoderClip = ImageTextEncoder;

/** sha256 of each input of the cache; `sha256` hashes the three together. */
export interface DecoderFingerprint {
  data: string;
  vae: string;
  clip: string;
  sha256: string;
}

export interface DecoderData {
  /** Scaled latents, count × (channels·side·side), the UNet's x₀. */
  latents: Float32Array;
  /** CLIP image embeddings, count × dim, normalised as the embedding space is (the space the prior samples in). */
  embeddings: Float32Array;
  count: number;
  channels: number;
  side: number;
  dim: number;
  /** Embeddings of held-out images, decoded into the progress grid (never trained on). */
  heldOutEmbeddings: Float32Array;
  heldOutCount: number;
  fingerprint: DecoderFingerprint;
}

const sha = (parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** sha256 over a module's parameter names, shapes and float bytes (and its config, when it has one). */
export async function moduleSha256(module: nn.Module, config?: unknown): Promise<string> {
  const parts: (string | Uint8Array)[] = [JSON.stringify(config ?? null)];
  for (const [name, t] of module.stateDict()) {
    const data = await t.read();
    parts.push(`${name}[${t.shape.join(',')}]`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return sha(parts);
}

/** One CLIP: its weights' sha256. A MultiCLIP: each model's, in order, and its normalisation. */
async function encoderSha256(encoder: DecoderClip): Promise<string> {
  if (!(encoder instanceof MultiCLIP)) return moduleSha256(encoder);
  const models = await Promise.all(encoderModels(encoder).map((m) => moduleSha256(m)));
  return sha(['MultiCLIP', JSON.stringify({ normalize: encoder.normalize }), ...models]);
}

export async function decoderFingerprint(train: ImageSet, heldOut: ImageSet, vae: AutoencoderKL, clip: DecoderClip): Promise<DecoderFingerprint> {
  // The VAE's config carries the scaling_factor the latents are multiplied by, so it is hashed too.
  const data = sha([fingerprintImages(train), fingerprintImages(heldOut)]);
  const vaeSha = await moduleSha256(vae, vae.rawConfig);
  const clipSha = await encoderSha256(clip);
  return { data, vae: vaeSha, clip: clipSha, sha256: sha([data, vaeSha, clipSha]) };
}

/** Posterior modes × scaling_factor of every image, in batches: the latents SD's UNet trains on. */
export async function encodeLatents(vae: AutoencoderKL, images: ImageSet, batchSize = 32): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let start = 0; start < images.count; start += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, images.count - start) }, (_, i) => start + i);
    const z = tidy(() => noGrad(() => vae.encode(tensor(imageBatch(images, rows), [rows.length, 3, images.side, images.side])).mode().mul(vae.scalingFactor)).keep());
    parts.push((await z.read()) as Float32Array);
    z.dispose();
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
}

/** CLIP image embeddings in the embedding space, as `sd encode` writes them for the prior (one CLIP: unit rows). */
export async function encodeEmbeddings(clip: DecoderClip, images: ImageSet): Promise<Float32Array> {
  return embedImageRows(clip, Array.from({ length: images.count }, (_, i) => imageAt(images, i)));
}

/** Where each part of the fingerprint differs, in words (empty when the cache is current). */
function staleParts(saved: Record<string, string>, now: DecoderFingerprint): string[] {
  const what: Record<keyof Omit<DecoderFingerprint, 'sha256'>, string> = { data: 'the training or held-out images', vae: 'the VAE (weights or config, incl. scaling_factor)', clip: 'the CLIP (its weights; a MultiCLIP\'s models or normalisation)' };
  return (Object.keys(what) as (keyof typeof what)[]).filter((k) => saved[k] !== now[k]).map((k) => `${what[k]} changed (cache sha256 ${saved[k] ?? 'none'}, now ${now[k]})`);
}

/** Refuses a cache at `path` computed from other inputs, naming each that changed (no cache: nothing to check). */
export function assertCacheCurrent(path: string, fingerprint: DecoderFingerprint): void {
  if (!existsSync(path)) return;
  const saved = readSafetensors(path).metadata;
  const stale = staleParts(saved, fingerprint);
  if (stale.length || saved.sha256 !== fingerprint.sha256) {
    throw new Error(`${path}: stale latent cache, computed from other inputs than this run's:\n  ${stale.join('\n  ')}\nResume with the images, VAE and CLIP the run started with, or start a new run in another --out.`);
  }
}

/**
 * Reads the cache at `path` if it was computed from these inputs; otherwise computes latents and
 * embeddings and writes it (atomically). A cache of other inputs is refused, not overwritten: the run
 * beside it was trained on it.
 */
export async function loadOrBuildDecoderData(path: string, fingerprint: DecoderFingerprint, train: ImageSet, heldOut: ImageSet, vae: AutoencoderKL, clip: DecoderClip, onProgress?: (message: string) => void): Promise<DecoderData> {
  const channels = vae.config.latent_channels;
  const side = train.side / vae.downscale;
  const dim = embeddingDim(clip);
  const shape = { count: train.count, channels, side, dim, heldOutCount: heldOut.count, fingerprint };
  if (existsSync(path)) {
    assertCacheCurrent(path, fingerprint);
    const file = readSafetensors(path);
    const get = (name: string) => Float32Array.from(file.tensors.get(name)!.data);
    return { ...shape, latents: get('latents'), embeddings: get('embeddings'), heldOutEmbeddings: get('held_out_embeddings') };
  }
  onProgress?.(`encoding ${train.count} training images with the VAE and the CLIP (cached in ${path})`);
  const latents = await encodeLatents(vae, train);
  const embeddings = await encodeEmbeddings(clip, train);
  const heldOutEmbeddings = await encodeEmbeddings(clip, heldOut);
  writeSafetensors(path, {
    latents: { shape: [train.count, channels, side, side], data: latents },
    embeddings: { shape: [train.count, dim], data: embeddings },
    held_out_embeddings: { shape: [heldOut.count, dim], data: heldOutEmbeddings },
  }, { data: fingerprint.data, vae: fingerprint.vae, clip: fingerprint.clip, sha256: fingerprint.sha256 });
  return { ...shape, latents, embeddings, heldOutEmbeddings };
}
