// CLIP's byte-level BPE tokenizer, matching OpenAI's clip/simple_tokenizer.py and clip.tokenize:
// same text clean-up (see text-clean.ts for the ftfy caveat), same word split, same byte→unicode
// table, same 48,894 merges, same ids. Vocabulary: 256 byte symbols, the same 256 with "</w>"
// (end of word), one symbol per merge, then <|startoftext|> and <|endoftext|> — 49,408 ids.
import { createHash, fromBase64, gunzipSync } from '#host';
import { BPE_MERGE_COUNT, BPE_MERGES_GZIP_BASE64, BPE_MERGES_SHA256 } from './bpe-vocab.generated.ts';
import { cleanCaption } from './text-clean.ts';

export const CLIP_VOCAB_SIZE = 49408;
export const CLIP_START_TOKEN = 49406;
export const CLIP_END_TOKEN = 49407;
export const CLIP_CONTEXT_LENGTH = 77;

const START_TEXT = '<|startoftext|>';
const END_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';

// OpenAI's split: special tokens, English contractions, letter runs, single digits, runs of other
// non-space characters. `\s` of Python's `regex` module is Unicode White_Space (not JS's `\s`).
const WORD_SPLIT =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}]+/giu;

/**
 * GPT-2's reversible byte→character table: printable Latin-1 bytes map to themselves, the other
 * 68 bytes to U+0100 onwards, so every byte string becomes a string of visible characters. The
 * insertion order (printable bytes first) defines the ids of the byte symbols.
 */
function byteToUnicodeTable(): { bytes: number[]; chars: string[] } {
  const bytes: number[] = [];
  const isPrintable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  for (let b = 0; b < 256; b++) if (isPrintable(b)) bytes.push(b);
  const chars = bytes.map((b) => String.fromCharCode(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (isPrintable(b)) continue;
    bytes.push(b);
    chars.push(String.fromCharCode(256 + extra++));
  }
  return { bytes, chars };
}

/** Result of {@link ClipTokenizer.tokenize}: `rows × contextLength` ids, zero-padded. */
export interface TokenizedBatch {
  /** Row-major ids, `rows * contextLength` long; row i holds <|startoftext|>, the text, <|endoftext|>, zeros. */
  ids: Int32Array;
  /** `[rows, contextLength]`. */
  shape: [number, number];
  /** How many texts were cut to fit (their last kept token was replaced by <|endoftext|>). */
  truncated: number;
  /** Row indices of the truncated texts. */
  truncatedRows: number[];
  /** Position of <|endoftext|> in each row (what CLIP's text encoder pools from). */
  endPositions: Int32Array;
}

const WORD_CACHE_LIMIT = 200_000;

export class ClipTokenizer {
  private readonly encoder = new Map<string, number>();
  private readonly decoder: string[] = [];
  /** Merge rank keyed by `first + ' ' + second` (symbols never contain spaces). */
  private readonly ranks = new Map<string, number>();
  private readonly byteEncoder: string[] = new Array(256);
  private readonly byteDecoder = new Map<string, number>();
  private readonly wordCache = new Map<string, readonly number[]>();
  private readonly utf8 = new TextEncoder();

  /** Builds a tokenizer from merge lines ("a b"), in rank order; CLIP uses exactly 48,894 of them. */
  constructor(merges: readonly string[]) {
    const { bytes, chars } = byteToUnicodeTable();
    bytes.forEach((b, i) => {
      this.byteEncoder[b] = chars[i]!;
      this.byteDecoder.set(chars[i]!, b);
    });
    const vocab = [...chars, ...chars.map((c) => c + END_OF_WORD)];
    merges.forEach((merge, rank) => {
      const parts = merge.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) {
        throw new Error(`ClipTokenizer: merge ${rank} is not two space-separated symbols: ${JSON.stringify(merge)}`);
      }
      this.ranks.set(merge, rank);
      vocab.push(parts[0] + parts[1]);
    });
    vocab.push(START_TEXT, END_TEXT);
    vocab.forEach((symbol, id) => this.encoder.set(symbol, id));
    this.decoder.push(...vocab);
  }

  /** Number of ids (49,408 for CLIP). */
  get vocabSize(): number {
    return this.decoder.length;
  }

  /** The BPE ids of one byte-encoded word, with "</w>" on its last symbol (cached). */
  private bpeWord(token: string): readonly number[] {
    const cached = this.wordCache.get(token);
    if (cached) return cached;
    let ids: number[];
    if (token === START_TEXT || token === END_TEXT) {
      ids = [this.encoder.get(token)!];
    } else {
      ids = this.mergeSymbols(token).map((s) => this.encoder.get(s)!);
    }
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(token, ids);
    return ids;
  }

  /** Repeatedly merges the lowest-ranked adjacent pair, all its occurrences at once, like OpenAI's loop. */
  private mergeSymbols(token: string): string[] {
    // Byte-encoded characters are all in the BMP, so code units are characters.
    let word = token.split('');
    word[word.length - 1] += END_OF_WORD;
    while (word.length > 1) {
      let bestRank = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(word[i] + ' ' + word[i + 1]);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          first = word[i]!;
          second = word[i + 1]!;
        }
      }
      if (bestRank === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    return word;
  }

  /** Ids of a text without start/end tokens, like `SimpleTokenizer.encode`. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const [word] of cleanCaption(text).matchAll(WORD_SPLIT)) {
      let encoded = '';
      for (const b of this.utf8.encode(word)) encoded += this.byteEncoder[b];
      for (const id of this.bpeWord(encoded)) ids.push(id);
    }
    return ids;
  }

  /**
   * Text of ids, like `SimpleTokenizer.decode`: every "</w>" becomes a space (so a decoded caption
   * ends with one) and invalid UTF-8 becomes U+FFFD. Special tokens decode to their names.
   */
  decode(ids: ArrayLike<number>): string {
    let symbols = '';
    for (let i = 0; i < ids.length; i++) {
      const symbol = this.decoder[ids[i]!];
      if (symbol === undefined) throw new Error(`ClipTokenizer.decode: id ${ids[i]} is outside the vocabulary [0, ${this.vocabSize})`);
      symbols += symbol;
    }
    const bytes = new Uint8Array(symbols.length);
    for (let i = 0; i < symbols.length; i++) bytes[i] = this.byteDecoder.get(symbols[i]!)!;
    return new TextDecoder('utf-8').decode(bytes).replaceAll(END_OF_WORD, ' ');
  }

  /**
   * `clip.tokenize(texts, context_length, truncate)`: one row per text of <|startoftext|>, the ids,
   * <|endoftext|>, then zeros. A text that does not fit is cut to `contextLength` ids whose last is
   * replaced by <|endoftext|> when `truncate` is true, and is an error otherwise.
   */
  tokenize(texts: string | readonly string[], contextLength = CLIP_CONTEXT_LENGTH, truncate = true): TokenizedBatch {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Number.isInteger(contextLength) || contextLength < 2) {
      throw new Error(`ClipTokenizer.tokenize: contextLength must be an integer >= 2, got ${contextLength}`);
    }
    const ids = new Int32Array(list.length * contextLength);
    const endPositions = new Int32Array(list.length);
    const truncatedRows: number[] = [];
    list.forEach((text, row) => {
      const body = this.encode(text);
      let length = body.length + 2;
      if (length > contextLength) {
        if (!truncate) {
          throw new Error(`ClipTokenizer.tokenize: input ${JSON.stringify(text)} is too long for context length ${contextLength} (${length} tokens)`);
        }
        truncatedRows.push(row);
        length = contextLength;
      }
      const base = row * contextLength;
      ids[base] = CLIP_START_TOKEN;
      for (let i = 1; i < length - 1; i++) ids[base + i] = body[i - 1]!;
      ids[base + length - 1] = CLIP_END_TOKEN;
      endPositions[row] = length - 1;
    });
    return { ids, shape: [list.length, contextLength], truncated: truncatedRows.length, truncatedRows, endPositions };
  }
}

/** The 48,894 CLIP merges, decompressed from the bundled data and checked against their SHA-256. */
export function loadClipMerges(): string[] {
  const text = new TextDecoder().decode(gunzipSync(fromBase64(BPE_MERGES_GZIP_BASE64)));
  const digest = createHash('sha256').update(text, 'utf8').digest('hex');
  if (digest !== BPE_MERGES_SHA256) {
    throw new Error(`CLIP BPE data is corrupt: sha256 ${digest}, expected ${BPE_MERGES_SHA256}`);
  }
  const merges = text.split('\n');
  if (merges.length !== BPE_MERGE_COUNT) throw new Error(`CLIP BPE data has ${merges.length} merges, expected ${BPE_MERGE_COUNT}`);
  return merges;
}

let shared: ClipTokenizer | undefined;

/** The shared CLIP tokenizer (built on first use, ~0.1 s). */
export function clipTokenizer(): ClipTokenizer {
  shared ??= new ClipTokenizer(loadClipMerges());
  return shared;
}

/** `clip.tokenize` with the shared tokenizer. */
export function tokenize(texts: string | readonly string[], contextLength = CLIP_CONTEXT_LENGTH, truncate = true): TokenizedBatch {
  return clipTokenizer().tokenize(texts, contextLength, truncate);
}
