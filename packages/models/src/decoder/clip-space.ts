// Which embedding space a decoder was trained in, written beside its weights (clip_space.json), so
// that sampling it in another one — a MultiCLIP's models in another order, the other normalisation,
// a CLIP of another width — is refused instead of silently mis-conditioned. The widths and the
// normalisation are compared, not the weights: two CLIPs of equal widths swapped still pass.
import { existsSync, join, readFileSync } from '#host';
import { embeddingBlocks, normalizesEmbeddings, type ImageTextEncoder } from '../clip/embedding-space.ts';

export const CLIP_SPACE_FILE = 'clip_space.json';

export interface ClipSpaceRecord {
  /** Each model's embedding width, in concatenation order (one entry: a single CLIP). */
  blocks: number[];
  /** Whether rows are normalised (per block); false: a raw MultiCLIP. */
  normalize: boolean;
  /** The CLIP checkpoints, in words (as the run's config records them). */
  clip: string;
  /** sha256 of the CLIP weights (and a MultiCLIP's normalisation), as the latent cache's fingerprint. */
  sha256: string;
}

export function clipSpaceRecord(encoder: ImageTextEncoder, clip: string, sha256: string): ClipSpaceRecord {
  return { blocks: embeddingBlocks(encoder), normalize: normalizesEmbeddings(encoder), clip, sha256 };
}

/** Refuses `encoder` when the decoder folder's clip_space.json (if it has one) records another space. */
export function assertDecoderClipSpace(decoderDir: string, encoder: ImageTextEncoder): void {
  const file = join(decoderDir, CLIP_SPACE_FILE);
  if (!existsSync(file)) return;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as ClipSpaceRecord;
  const now = { blocks: embeddingBlocks(encoder), normalize: normalizesEmbeddings(encoder) };
  const describe = (s: { blocks: number[]; normalize: boolean }) => `${s.blocks.length > 1 ? `a MultiCLIP of ${s.blocks.join(' + ')}-d models, ${s.normalize ? 'per-model unit' : 'raw'}` : `one ${s.blocks[0]}-d CLIP`}`;
  if (saved.blocks.join() !== now.blocks.join() || (saved.blocks.length > 1 && saved.normalize !== now.normalize)) {
    throw new Error(`${file}: the decoder was trained on ${describe(saved)} (${saved.clip}); the CLIP given is ${describe(now)}. Give the same --clip list (and --clip-normalize) it was trained with`);
  }
}
