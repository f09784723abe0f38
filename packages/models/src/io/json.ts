// JSON files of diffusers folders (config.json, model_index.json, shard indexes): parsed as objects,
// with errors that name the file.
import { readFileSync } from '#host';

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const describeJson = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** Parses a JSON file that must hold an object (config, index, model_index); errors name the file. */
export function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseJsonObject(text, file);
}

/** readJsonObject on text already read (a page fetches it); errors name `file`. */
export function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new Error(`${file}: expected a JSON object, found ${describeJson(parsed)}`);
  return parsed;
}
