import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CLIP_END_TOKEN,
  CLIP_START_TOKEN,
  CLIP_VOCAB_SIZE,
  ClipTokenizer,
  clipTokenizer,
  loadClipMerges,
  tokenize,
} from '../../packages/models/src/clip/tokenizer.ts';
import { htmlUnescape } from '../../packages/models/src/clip/html-unescape.ts';
import { cleanCaption, fixTextLite, pyStrip } from '../../packages/models/src/clip/text-clean.ts';
import { BPE_MERGES_SHA256 } from '../../packages/models/src/clip/bpe-vocab.generated.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

// Ids from OpenAI's clip.tokenize (start and end tokens included).
const GOLDEN: [string, number[]][] = [
  ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
  [
    'A small RED circle in the top-left corner, on a blue background.',
    [49406, 320, 2442, 736, 7117, 530, 518, 1253, 268, 1823, 5253, 267, 525, 320, 1746, 5994, 269, 49407],
  ],
  ['two green squares and one yellow star', [49406, 1237, 1901, 26972, 537, 637, 4481, 1565, 49407]],
  ["Hello!!! How's it going?? 123 4567", [49406, 3306, 995, 829, 568, 585, 1245, 2197, 272, 273, 274, 275, 276, 277, 278, 49407]],
  ['naïve café — déjà vu 😀', [49406, 1097, 35689, 563, 15304, 2005, 25466, 73, 21259, 13230, 7334, 49407]],
  ['   multiple   spaces\tand\nnewlines  ', [49406, 6470, 9006, 537, 1218, 3418, 49407]],
  ['', [49406, 49407]],
  ['a diagram of a pelican riding a bicycle', [49406, 320, 22697, 539, 320, 34131, 6765, 320, 11652, 49407]],
  ["ThE QuIcK bRoWn FoX jumps over the lazy dog's back", [49406, 518, 3712, 2866, 3240, 18911, 962, 518, 10753, 1929, 568, 893, 49407]],
  ['&amp; html &lt;entities&gt; should unescape', [49406, 261, 18231, 283, 38134, 285, 1535, 4522, 12314, 49407]],
];

function row(batch: ReturnType<typeof tokenize>, r: number): number[] {
  const n = batch.shape[1];
  return Array.from(batch.ids.subarray(r * n, (r + 1) * n));
}

describe('CLIP tokenizer', () => {
  it('bundles the 48,894 merges intact and builds the 49,408-id vocabulary', () => {
    const merges = loadClipMerges();
    expect(merges.length).toBe(48894);
    expect(createHash('sha256').update(merges.join('\n')).digest('hex')).toBe(BPE_MERGES_SHA256);
    expect(merges[0]).toBe('i n');
    expect(clipTokenizer().vocabSize).toBe(CLIP_VOCAB_SIZE);
  });

  it.each(GOLDEN)('matches OpenAI ids for %j', (text, expected) => {
    expect([CLIP_START_TOKEN, ...clipTokenizer().encode(text), CLIP_END_TOKEN]).toEqual(expected);
    const batch = tokenize([text]);
    expect(batch.shape).toEqual([1, 77]);
    expect(row(batch, 0)).toEqual([...expected, ...new Array(77 - expected.length).fill(0)]);
    expect(batch.endPositions[0]).toBe(expected.length - 1);
  });

  it('matches the clip.tokenize rows shipped in modelzoo@0.0.4 (test/clip_data.json)', () => {
    const { cases } = fixture('clip-tokenizer-modelzoo.json') as { cases: { text: string; ids: number[] }[] };
    expect(cases.length).toBe(3);
    const batch = tokenize(cases.map((c) => c.text));
    cases.forEach((c, i) => expect(row(batch, i)).toEqual(c.ids));
    expect(batch.truncated).toBe(0);
  });

  it('tokenizes a batch into zero-padded Int32Array rows', () => {
    const batch = tokenize(['a photo of a cat', '', 'two green squares and one yellow star'], 12);
    expect(batch.ids).toBeInstanceOf(Int32Array);
    expect(batch.shape).toEqual([3, 12]);
    expect(row(batch, 0)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 0, 0, 0, 0, 0]);
    expect(row(batch, 1)).toEqual([49406, 49407, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(batch.endPositions)).toEqual([6, 1, 8]);
  });

  it('truncates like clip.tokenize(truncate=True): end token kept as the last id, and reports it', () => {
    const long = 'a photo of a cat '.repeat(30);
    const batch = tokenize(['a photo of a cat', long, long + 'on a mat'], 8);
    expect(batch.truncated).toBe(2);
    expect(batch.truncatedRows).toEqual([1, 2]);
    expect(row(batch, 1)).toEqual([49406, 320, 1125, 539, 320, 2368, 320, 49407]);
    expect(batch.endPositions[1]).toBe(7);
    // Exactly full is not truncated: start + 5 words + end = 7 ids.
    expect(tokenize('a photo of a cat', 7).truncated).toBe(0);
    expect(tokenize('a photo of a cat', 6).truncated).toBe(1);
    expect(row(tokenize(long), 0).at(-1)).toBe(CLIP_END_TOKEN);
  });

  it('refuses long input when truncate is false, and bad context lengths', () => {
    expect(() => tokenize('a photo of a cat', 6, false)).toThrow(/too long for context length 6/);
    expect(() => tokenize('x', 1)).toThrow(/contextLength must be an integer >= 2/);
  });

  it('maps literal special-token text to the special ids, as OpenAI does', () => {
    const tok = clipTokenizer();
    expect(tok.encode('<|startoftext|>hi<|ENDOFTEXT|>')).toEqual([49406, ...tok.encode('hi'), 49407]);
    expect(tok.encode('hi').length).toBe(1);
  });

  it('decodes ids back to the cleaned text (one space per end of word)', () => {
    const tok = clipTokenizer();
    expect(tok.decode(tok.encode("Hello!!! How's it going??"))).toBe("hello !!! how 's it going ?? ");
    expect(tok.decode(tok.encode('naïve café — déjà vu 😀'))).toBe('naïve café — déjà vu 😀 ');
    expect(tok.decode([49406, 320, 2368, 49407])).toBe('<|startoftext|>a cat <|endoftext|>');
    // A lone UTF-8 lead byte decodes to U+FFFD, like errors="replace". Byte 0xF0 is printable
    // Latin-1, so its id is its rank among printable bytes: 94 + 12 + (0xf0 - 0xae) = 172.
    expect(tok.decode([172])).toBe('\ufffd');
    expect(() => tok.decode([49408])).toThrow(/outside the vocabulary/);
  });

  it('round-trips arbitrary Unicode words through encode/decode', () => {
    const tok = clipTokenizer();
    for (const word of ['zebra', 'ünïcödé', '東京タワー', 'Ελληνικά', '🦩🦩🦩', 'x86_64', 'self-driving']) {
      expect(tok.decode(tok.encode(word)).replaceAll(' ', '')).toBe(cleanCaption(word).replaceAll(' ', ''));
    }
  });

  it('applies the deterministic ftfy fixes before tokenizing', () => {
    expect(fixTextLite('it\u2019s \u201cfine\u201d')).toBe('it\'s "fine"');
    expect(fixTextLite('ﬁne ﬂower Ĳssel')).toBe('fine flower IJssel');
    expect(fixTextLite('ＦＵＬＬ　ｗｉｄｔｈ１２')).toBe('FULL width12');
    expect(fixTextLite('\x1b[36;44mblue\x1b[0m\x00\ufeff')).toBe('blue');
    expect(fixTextLite('e\u0301')).toBe('\u00e9');
    // C1 controls are read as windows-1252 (0x80 → €, 0x93/0x94 → curly quotes, then uncurled).
    expect(fixTextLite('5\x80 \x93q\x94 \x81')).toBe('5\u20ac "q" \x81');
    // The curly apostrophe becomes the contraction token 's (id 568).
    expect(clipTokenizer().encode('dog\u2019s')).toEqual(clipTokenizer().encode("dog's"));
  });

  it('matches Python html.unescape (applied twice), str.strip and whitespace_clean', () => {
    const { cases } = fixture('python-text-cases.json') as {
      cases: { input: string; unescape2: string; strip: string; whitespace_clean: string }[];
    };
    expect(cases.length).toBeGreaterThan(300);
    for (const c of cases) {
      expect(htmlUnescape(htmlUnescape(c.input)), JSON.stringify(c.input)).toBe(c.unescape2);
      expect(pyStrip(c.input), JSON.stringify(c.input)).toBe(c.strip);
      expect(pyStrip(c.input.replace(/\p{White_Space}+/gu, ' '))).toBe(c.whitespace_clean);
    }
  });

  it('works with a tiny custom merge table', () => {
    const tok = new ClipTokenizer(['a b', 'ab c</w>']);
    expect(tok.vocabSize).toBe(512 + 2 + 2);
    // Byte symbols are ordered printable bytes first, so 'd' (0x64) is symbol 0x64 - 0x21 = 67 and
    // 'd</w>' is 256 + 67; 'ab' is the first merge (512), 'abc</w>' the second (513).
    expect(tok.encode('abc abd')).toEqual([513, 512, 256 + 67]);
    expect(tok.decode([513, 512, 323])).toBe('abc abd ');
  });

  it('rejects malformed merges', () => {
    expect(() => new ClipTokenizer(['a b c'])).toThrow(/merge 0 is not two space-separated symbols/);
  });

  it('is fast: 2,000 distinct captions in well under a second', () => {
    const tok = new ClipTokenizer(loadClipMerges());
    const words = ['red', 'green', 'blue', 'circle', 'square', 'triangle', 'small', 'large', 'left', 'right', 'top', 'bottom'];
    const captions = Array.from({ length: 2000 }, (_, i) => `${words[i % 12]} ${words[(i * 7) % 12]} shape number ${i} in the ${words[(i * 5) % 12]}xyz${i}`);
    const t0 = performance.now();
    const batch = tok.tokenize(captions);
    const ms = performance.now() - t0;
    expect(batch.shape).toEqual([2000, 77]);
    expect(ms).toBeLessThan(1000);
  });
});
