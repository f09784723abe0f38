// The text clean-up that CLIP's simple_tokenizer applies before splitting a caption into words:
//   whitespace_clean(basic_clean(text)).lower()
// where basic_clean = ftfy.fix_text, html.unescape twice, strip; whitespace_clean = collapse runs of
// whitespace to one space, strip.
//
// ftfy is a large heuristic library; `fixTextLite` keeps only its deterministic, table-driven fixers
// (the ones that change ordinary captions: curly quotes, ligatures, full-width forms, control and
// terminal-escape characters, C1 controls, NFC). It does NOT repair mojibake ("cafÃ©" stays as is)
// nor does it perform ftfy's own extra HTML unescape, so such inputs may tokenize differently from
// OpenAI's code.
import { htmlUnescape, WINDOWS_1252_C1 } from './html-unescape.ts';

// Python's str.strip() removes what str.isspace() accepts: Unicode White_Space plus U+001C–U+001F.
const PY_ISSPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_ISSPACE}]+|[${PY_ISSPACE}]+$`, 'gu');
// The `regex` module's \s is the Unicode White_Space property.
const WHITESPACE_RUN = /\p{White_Space}+/gu;

const TERMINAL_ESCAPE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const C1_CONTROL = /[\x80-\x9f]/g;
const SINGLE_QUOTE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE = /[\u201c-\u201f]/g;
// ftfy's remove_control_chars: C0 controls except \t \n \f \r, DEL, deprecated Arabic format
// controls, the byte-order mark and the interlinear annotation characters.
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const FULL_OR_HALF_WIDTH = /[\u3000\uff01-\uffef]/g;

const LIGATURES: Readonly<Record<string, string>> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'gu');

function fixCharacterWidth(ch: string): string {
  if (ch === '\u3000') return ' ';
  return ch.normalize('NFKC');
}

/** The deterministic subset of `ftfy.fix_text` (ftfy 6 defaults), applied in ftfy's order. */
export function fixTextLite(text: string): string {
  let out = text.replace(TERMINAL_ESCAPE, '');
  out = out.replace(C1_CONTROL, (ch) => WINDOWS_1252_C1[ch.charCodeAt(0) - 0x80]!);
  out = out.replace(LIGATURE, (ch) => LIGATURES[ch]!);
  out = out.replace(FULL_OR_HALF_WIDTH, fixCharacterWidth);
  out = out.replace(SINGLE_QUOTE, "'").replace(DOUBLE_QUOTE, '"');
  out = out.replace(CONTROL_CHARS, '');
  return out.normalize('NFC');
}

/** Python's `str.strip()` with no arguments. */
export function pyStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}

/** `whitespace_clean(basic_clean(text)).lower()` of CLIP's simple_tokenizer (see the file comment). */
export function cleanCaption(text: string): string {
  const basic = pyStrip(htmlUnescape(htmlUnescape(fixTextLite(text))));
  return pyStrip(basic.replace(WHITESPACE_RUN, ' ')).toLowerCase();
}
