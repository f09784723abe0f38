// Export to, and read from, the Hugging Face `imagefolder` layout: image files next to a
// metadata.jsonl whose lines are {"file_name": "<relative path>", "text": "<caption>", ...extra}.

import { isAbsolute, join, mkdir, normalize, readFile, relative, sep, stat, writeFile } from '#host';
import { generateSample, type SampleOptions } from './dataset.ts';
import { decodeRgb, encodeRgbPng, type RgbImage } from './image-codec.ts';

export const METADATA_FILE = 'metadata.jsonl';

export interface ExportOptions extends SampleOptions {
  /** Number of samples to write. */
  count: number;
  /** First sample index (default 0); export disjoint shards with different starts. */
  start?: number;
}

/**
 * Writes samples start..start+count-1 as PNGs (`000042.png`, named by sample index) plus
 * metadata.jsonl with `file_name`, `text` (captions[0]) and the extra fields `captions` (all of
 * them), `index`, `seed`, `split`, `background` and `objects` (shape, colour, size, position and
 * exact geometry of each object). Creates `dir` if needed; existing files of the same names are replaced.
 */
export async function exportImageFolder(dir: string, options: ExportOptions): Promise<{ count: number; metadataPath: string }> {
  const { count, start = 0 } = options;
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`exportImageFolder: count must be a non-negative integer, got ${count}`);
  await mkdir(dir, { recursive: true });
  const lines: string[] = [];
  const pending: Promise<void>[] = [];
  for (let index = start; index < start + count; index++) {
    const sample = generateSample(index, options);
    const fileName = `${String(index).padStart(6, '0')}.png`;
    pending.push(writeFile(join(dir, fileName), encodeRgbPng({ width: sample.width, height: sample.height, data: sample.image })));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
    lines.push(JSON.stringify({
      file_name: fileName,
      text: sample.captions[0],
      captions: sample.captions,
      index,
      seed: options.seed,
      split: options.split ?? 'train',
      background: sample.attributes.background,
      objects: sample.attributes.objects,
    }));
  }
  await Promise.all(pending);
  const metadataPath = join(dir, METADATA_FILE);
  await writeFile(metadataPath, lines.length ? lines.join('\n') + '\n' : '');
  return { count, metadataPath };
}

export interface ImageFolderEntry {
  /** `file_name` as written in metadata.jsonl (relative to the folder). */
  fileName: string;
  /** Absolute or folder-joined path of the image. */
  path: string;
  text: string;
  /** Every other field of the metadata line. */
  extra: Record<string, unknown>;
  /** 1-based line number in metadata.jsonl. */
  line: number;
  /** Decoded RGB pixels (absent when read with loadImages: false). */
  image?: RgbImage;
}

export interface ReadImageFolderOptions {
  /** Decode every image (default true). false only checks that each file exists. */
  loadImages?: boolean;
  /**
   * Require a "text" caption on every line (default true). Image-only training (the VAE, the
   * language-free decoder) never reads captions, so it accepts lines without one (text: '').
   */
  requireText?: boolean;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Lists an imagefolder's entries from its metadata.jsonl, checking every line and every image.
 * Errors name the folder, the metadata line and the image file at fault.
 */
export async function readImageFolder(dir: string, options: ReadImageFolderOptions = {}): Promise<ImageFolderEntry[]> {
  const loadImages = options.loadImages ?? true;
  const requireText = options.requireText ?? true;
  const metadataPath = join(dir, METADATA_FILE);
  if (!(await exists(metadataPath))) {
    const csv = (await exists(join(dir, 'metadata.csv'))) ? ' (metadata.csv is not supported; convert it to JSON lines)' : '';
    throw new Error(`readImageFolder: ${dir} has no ${METADATA_FILE}${csv}; an imagefolder needs one line {"file_name": ..., "text": ...} per image`);
  }
  const lines = (await readFile(metadataPath, 'utf8')).split('\n');
  const entries: ImageFolderEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    const where = `${metadataPath}:${i + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (e) {
      throw new Error(`readImageFolder: ${where}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new Error(`readImageFolder: ${where}: expected a JSON object, got ${raw.slice(0, 60)}`);
    }
    const { file_name: fileName, text, ...extra } = record as Record<string, unknown>;
    if (typeof fileName !== 'string' || fileName === '') throw new Error(`readImageFolder: ${where}: missing or non-string "file_name"`);
    if (typeof text !== 'string' && (requireText || text !== undefined)) throw new Error(`readImageFolder: ${where}: missing or non-string "text" (for ${fileName})`);
    const rel = normalize(fileName);
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
      throw new Error(`readImageFolder: ${where}: file_name "${fileName}" must be a path inside the folder`);
    }
    const path = join(dir, rel);
    if (relative(dir, path).startsWith('..')) throw new Error(`readImageFolder: ${where}: file_name "${fileName}" leaves the folder`);
    let bytes: Uint8Array | undefined;
    try {
      if (loadImages) bytes = await readFile(path);
      else if (!(await stat(path)).isFile()) throw new Error('not a regular file');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as Error).message})`;
      throw new Error(`readImageFolder: ${where}: image file "${fileName}" ${why}`);
    }
    const entry: ImageFolderEntry = { fileName, path, text: typeof text === 'string' ? text : '', extra, line: i + 1 };
    if (bytes) {
      try {
        entry.image = decodeRgb(bytes, fileName);
      } catch (e) {
        throw new Error(`readImageFolder: ${where}: image file "${fileName}" is unreadable: ${(e as Error).message}`);
      }
    }
    entries.push(entry);
  }
  return entries;
}
