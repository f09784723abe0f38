// Python's `html.unescape`, reproduced rule for rule because CLIP's tokenizer applies it twice to
// every caption: the same character-reference regex, the longest-prefix rule for legacy names
// written without ';', and the same replacements for invalid numeric references. The HTML5 entity
// table comes from the `character-entities` packages (the WHATWG list, the same one Python embeds).
import { characterEntities } from 'character-entities';
import { characterEntitiesLegacy } from 'character-entities-legacy';

const LEGACY_NAMES = new Set(characterEntitiesLegacy);

/** Python's `html.entities.html5[key]`: names ending in ';' are all entities, bare names only legacy ones. */
function lookupEntity(key: string): string | undefined {
  if (key.endsWith(';')) {
    const name = key.slice(0, -1);
    return Object.hasOwn(characterEntities, name) ? characterEntities[name] : undefined;
  }
  return LEGACY_NAMES.has(key) ? characterEntities[key] : undefined;
}

/**
 * windows-1252's characters for bytes 0x80–0x9f; the five bytes it leaves undefined map to themselves
 * ("sloppy" windows-1252, as ftfy and browsers treat them).
 */
export const WINDOWS_1252_C1 =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

// Numeric references to these code points are replaced as browsers do.
const INVALID_CHARREFS: ReadonlyMap<number, string> = new Map([
  [0x00, '\ufffd'],
  [0x0d, '\r'],
  ...Array.from(WINDOWS_1252_C1, (ch, i): [number, string] => [0x80 + i, ch]),
]);

/** Code points that a numeric reference may not produce; Python drops the reference entirely. */
function isInvalidCodepoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF in every plane
  );
}

function numericReference(digits: string, radix: 10 | 16): string {
  // Long digit strings overflow to huge numbers or Infinity, which land in the U+FFFD branch as in Python.
  const cp = parseInt(digits, radix);
  const special = INVALID_CHARREFS.get(cp);
  if (special !== undefined) return special;
  if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(cp)) return '';
  return String.fromCodePoint(cp);
}

function namedReference(ref: string): string {
  const whole = lookupEntity(ref);
  if (whole !== undefined) return whole;
  // Longest legacy name that prefixes the reference; the rest is kept as text (`&notit;` → `¬it;`).
  const chars = Array.from(ref);
  for (let x = chars.length - 1; x > 1; x--) {
    const value = lookupEntity(chars.slice(0, x).join(''));
    if (value !== undefined) return value + chars.slice(x).join('');
  }
  return '&' + ref;
}

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Decodes HTML character references exactly like Python's `html.unescape`. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_match, ref: string) => {
    if (ref[0] !== '#') return namedReference(ref);
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
    return numericReference(digits, hex ? 16 : 10);
  });
}
