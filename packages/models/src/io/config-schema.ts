// Reading a diffusers config (`config.json`, `scheduler_config.json`) against a schema: each key's
// type and default, the values this project implements, and what to do with keys it has never heard
// of. diffusers itself warns about unknown keys and ignores them (a config written for one class,
// e.g. Stable Diffusion's PNDMScheduler one, loads another); so do we, but the warnings are returned
// so a caller can show them.

/** `number` is finite; `float` also allows ±Infinity (Python's json writes float('-inf') bare). */
export type ConfigKind = 'int' | 'number' | 'float' | 'bool' | 'string' | 'int[]' | 'number[]' | 'string[]' | 'int|int[]';

export interface KeySpec {
  kind: ConfigKind;
  /** Value when the key is absent. `undefined` makes the key required. */
  default?: unknown;
  /** May the value be null? (diffusers uses null for "feature off" in many keys.) */
  nullable?: boolean;
  /** The least allowed value of a number. */
  min?: number;
  /**
   * The values this project implements; anything else is an error naming the key and value, never
   * silently ignored. Returns a reason when unsupported, null when fine.
   */
  supported?: (value: unknown) => string | null;
}

export type ConfigSchema = Readonly<Record<string, KeySpec>>;

export interface ParsedConfig {
  /** Every schema key, with defaults filled in. */
  values: Record<string, unknown>;
  /** One line per key nobody here knows (ignored, like diffusers does). */
  warnings: string[];
}

const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function matchesKind(kind: ConfigKind, v: unknown): boolean {
  switch (kind) {
    case 'int':
      return isInt(v);
    case 'number':
      return isFinite(v);
    case 'float':
      return typeof v === 'number' && !Number.isNaN(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'int[]':
      return Array.isArray(v) && v.every(isInt);
    case 'number[]':
      return Array.isArray(v) && v.every(isFinite);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'int|int[]':
      return isInt(v) || (Array.isArray(v) && v.every(isInt));
  }
}

/** A value as JSON, with Infinity/NaN as themselves and long arrays (trained_betas) shortened. */
function show(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (v === undefined) return 'undefined';
  if (Array.isArray(v) && v.length > 8) return `[${v.slice(0, 4).map(show).join(',')},… ${v.length} entries]`;
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  return JSON.stringify(v);
}

const same = (a: unknown, b: unknown) => (typeof a === 'object' && a !== null ? show(a) === show(b) : a === b);

/** Only the values `expected` are implemented. */
export const only =
  (...expected: unknown[]) =>
  (v: unknown): string | null =>
    expected.some((e) => same(e, v)) ? null : `only ${expected.map(show).join(' or ')} is implemented`;

/** Only lists whose every entry is one of `allowed` are implemented (block types). */
export const onlyEach =
  (...allowed: unknown[]) =>
  (v: unknown): string | null =>
    (v as unknown[]).every((x) => allowed.some((e) => same(e, x))) ? null : `each entry must be ${allowed.map(show).join(' or ')}`;

/**
 * Checks `raw` against `schema` and fills in defaults; throws on the first wrong type or unsupported
 * value, naming `label`, the key and the value. Keys starting with '_' (`_class_name`,
 * `_diffusers_version`) are file metadata and skipped, as diffusers does; other unknown keys become
 * warnings. A key whose value is `undefined` counts as absent.
 */
export function parseConfig(raw: Readonly<Record<string, unknown>>, schema: ConfigSchema, label: string): ParsedConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${label}: the config must be a JSON object, got ${show(raw)}`);
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const present = has(raw, key) && raw[key] !== undefined;
    if (!present && spec.default === undefined) throw new Error(`${label}: required key "${key}" is missing`);
    const value = present ? raw[key] : spec.default;
    if (value === null ? !spec.nullable : !matchesKind(spec.kind, value)) {
      throw new Error(`${label}: "${key}" is ${show(value)}, expected ${spec.kind}${spec.nullable ? ' or null' : ''}`);
    }
    if (spec.min !== undefined && typeof value === 'number' && value < spec.min) throw new Error(`${label}: "${key}" is ${show(value)}, must be ≥ ${spec.min}`);
    const reason = spec.supported?.(value);
    if (reason) throw new Error(`${label}: "${key}": ${show(value)} is not supported (${reason})`);
    values[key] = value;
  }
  const warnings = Object.entries(raw)
    .filter(([key, value]) => !has(schema, key) && !key.startsWith('_') && value !== undefined)
    .map(([key, value]) => `${label}: unknown config key "${key}" = ${show(value)} ignored`);
  return { values, warnings };
}

/** A per-block list from an int (repeated) or a list (checked for length). */
export function perBlock(value: number | number[], blocks: number, key: string, label: string): number[] {
  if (typeof value === 'number') return new Array(blocks).fill(value);
  if (value.length !== blocks) throw new Error(`${label}: "${key}" has ${value.length} entries for ${blocks} blocks`);
  return [...value];
}
