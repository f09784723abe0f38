// Reading a diffusers `config.json` against a schema: each key's type and default, the values this
// project implements, and what to do with keys it has never heard of. diffusers itself warns about
// unknown keys and ignores them; so do we, but the warning is returned so a caller can show it.

export type ConfigKind = 'int' | 'number' | 'bool' | 'string' | 'int[]' | 'string[]' | 'int|int[]';

export interface KeySpec {
  kind: ConfigKind;
  /** Value when the key is absent. `undefined` makes the key required. */
  default?: unknown;
  /** May the value be null? (diffusers uses null for "feature off" in many keys.) */
  nullable?: boolean;
  /**
   * The values this project implements; anything else is an error naming the key and value, never
   * silently ignored. Returns a reason when unsupported, null when fine.
   */
  supported?: (value: unknown) => string | null;
}

export type ConfigSchema = Record<string, KeySpec>;

export interface ParsedConfig {
  /** Every schema key, with defaults filled in. */
  values: Record<string, unknown>;
  /** Keys nobody here knows (ignored, like diffusers does). */
  unknown: string[];
}

/** Keys diffusers writes into every config for bookkeeping. */
const BOOKKEEPING = new Set(['_class_name', '_diffusers_version', '_name_or_path', '_use_default_values']);

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function matchesKind(kind: ConfigKind, v: unknown): boolean {
  switch (kind) {
    case 'int':
      return isInt(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'int[]':
      return Array.isArray(v) && v.every(isInt);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'int|int[]':
      return isInt(v) || (Array.isArray(v) && v.every(isInt));
  }
}

const show = (v: unknown) => JSON.stringify(v);

/** Only the value `expected` (or null when nullable) is implemented. */
export const only =
  (...expected: unknown[]) =>
  (v: unknown): string | null =>
    expected.some((e) => show(e) === show(v)) ? null : `only ${expected.map(show).join(' or ')} is implemented`;

/** Checks `raw` against `schema`; throws on the first wrong type or unsupported value. */
export function parseConfig(raw: Record<string, unknown>, schema: ConfigSchema, label: string): ParsedConfig {
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const present = Object.prototype.hasOwnProperty.call(raw, key);
    if (!present && spec.default === undefined) throw new Error(`${label}: required key "${key}" is missing`);
    const value = present ? raw[key] : spec.default;
    if (value === null) {
      if (!spec.nullable) throw new Error(`${label}: "${key}" is null, expected ${spec.kind}`);
    } else if (!matchesKind(spec.kind, value)) {
      throw new Error(`${label}: "${key}" is ${show(value)}, expected ${spec.kind}${spec.nullable ? ' or null' : ''}`);
    }
    const reason = spec.supported?.(value);
    if (reason) throw new Error(`${label}: "${key}": ${show(value)} is not supported (${reason})`);
    values[key] = value;
  }
  const unknown = Object.keys(raw).filter((k) => !(k in schema) && !BOOKKEEPING.has(k));
  return { values, unknown };
}

/** A per-block list from an int (repeated) or a list (checked for length). */
export function perBlock(value: number | number[], blocks: number, key: string, label: string): number[] {
  if (typeof value === 'number') return new Array(blocks).fill(value);
  if (value.length !== blocks) throw new Error(`${label}: "${key}" has ${value.length} entries for ${blocks} blocks`);
  return [...value];
}
