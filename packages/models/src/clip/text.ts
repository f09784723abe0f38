// CLIP's text encoder with OpenAI's top-level names (token_embedding, positional_embedding,
// transformer.resblocks.N, ln_final, text_projection): the CLIP model extends it, so a CLIP state dict
// minus `visual.*` and `logit_scale` is exactly a text-encoder state dict.
import { add, argmax, cast, gather, isGradEnabled, matmul, nn, reshape, slice, tensor, Tensor } from '@sd/autograd';
import { fmt } from '@sd/kernels';
import type { ClipTextConfig } from './config.ts';
import type { TokenizedBatch } from './tokenizer.ts';
import { ClipTransformer, inferenceScope } from './transformer.ts';
import { replaceData } from './init.ts';

export interface TextEncoding {
  /** [B, embedDim]: the state at each row's end token (its largest id), projected. */
  pooled: Tensor;
  /** [B, L, width]: every position's state after ln_final (before the projection). */
  tokens: Tensor;
}

export class ClipTextEncoder extends nn.Module {
  readonly tokenEmbedding: nn.Embedding;
  readonly positionalEmbedding: Tensor;
  readonly transformer: ClipTransformer;
  readonly lnFinal: nn.LayerNorm;
  readonly textProjection: Tensor;

  constructor(
    readonly textConfig: ClipTextConfig,
    readonly embedDim: number,
  ) {
    super();
    const { contextLength, vocabSize, width, heads, layers } = textConfig;
    this.tokenEmbedding = this.module('token_embedding', new nn.Embedding(vocabSize, width));
    this.positionalEmbedding = this.param('positional_embedding', nn.init.normal([contextLength, width], 0.01));
    this.transformer = this.module('transformer', new ClipTransformer(width, layers, heads));
    this.lnFinal = this.module('ln_final', new nn.LayerNorm(width));
    this.textProjection = this.param('text_projection', nn.init.normal([width, embedDim], width ** -0.5));
    // OpenAI's initialize_parameters for the rest of the text tower.
    replaceData(this.tokenEmbedding.weight, nn.init.normal([vocabSize, width], 0.02));
    this.transformer.initialize();
  }

  get contextLength(): number {
    return this.textConfig.contextLength;
  }

  /** Token ids as an i32 tensor [B, L], checking host batches against the vocabulary. */
  private idsTensor(ids: Tensor | TokenizedBatch): Tensor {
    if (ids instanceof Tensor) return ids.dtype === 'i32' ? ids : cast(ids, 'i32');
    const { vocabSize } = this.textConfig;
    const bad = ids.ids.findIndex((id) => id < 0 || id >= vocabSize);
    if (bad >= 0) throw new Error(`encodeText: token id ${ids.ids[bad]} (row ${Math.floor(bad / ids.shape[1])}) is outside the vocabulary of ${vocabSize}`);
    return tensor(ids.ids, ids.shape, { dtype: 'i32' });
  }

  /**
   * Encodes token ids [B, L] (L ≤ context length; OpenAI always uses 77) with the causal transformer.
   * Pools each row at its largest id — the end token for CLIP's tokenizer — as OpenAI does.
   * Ids outside the vocabulary embed as zeros on the GPU (tensor input cannot be checked cheaply).
   */
  encodeTextFull(ids: Tensor | TokenizedBatch): TextEncoding {
    const { contextLength } = this.textConfig;
    const shape = ids.shape;
    if (shape.length !== 2 || shape[0] < 1 || shape[1] < 1) throw new Error(`encodeText: expected token ids [batch, length], got shape ${fmt(shape)}`);
    const [b, l] = shape;
    if (l > contextLength) throw new Error(`encodeText: ${l} tokens per row, but the context length is ${contextLength}`);
    return inferenceScope(() => {
      const idTensor = this.idsTensor(ids);
      const positions = l === contextLength ? this.positionalEmbedding : slice(this.positionalEmbedding, 0, 0, l);
      const x = add(this.tokenEmbedding.forward(idTensor), positions);
      const tokens = this.lnFinal.forward(this.transformer.forward(x, true));
      // Row r's end token sits at flat index r·L + argmax(ids[r]) (ids < 2^24 are exact in f32).
      const offsets = tensor(Array.from({ length: b }, (_, r) => r * l), [b]);
      const flatIndex = cast(add(cast(argmax(idTensor, -1), 'f32'), offsets), 'i32');
      const ends = gather(reshape(tokens, [b * l, tokens.shape[2]]), flatIndex, 0);
      return { pooled: matmul(ends, this.textProjection), tokens };
    });
  }

  /** [B, embedDim] text features (OpenAI's encode_text). */
  encodeText(ids: Tensor | TokenizedBatch): Tensor {
    const { pooled, tokens } = this.encodeTextFull(ids);
    // With a graph, `tokens` is part of pooled's history and must stay.
    if (!isGradEnabled()) tokens.dispose();
    return pooled;
  }
}
