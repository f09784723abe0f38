// Paired (text, image) embeddings on disk: the clip-retrieval layout (img_emb/img_emb_N.npy,
// text_emb/text_emb_N.npy, read shard by shard) or a flat pair of .npy files.
import { createHash, existsSync, join, readdirSync, readFileSync, statSync } from '#host';
import { parseNpy, readNpy, type FileLoader, type NpyArray } from '@sd/io';

export interface EmbeddingPairs {
  /** [count, dim] image embeddings. */
  image: Float32Array;
  /** [count, dim] text embeddings. */
  text: Float32Array;
  count: number;
  dim: number;
  source: string;
}

export interface Shard {
  imageFile: string;
  textFile: string;
}

const shardNumber = (name: string) => Number(/(\d+)\.npy$/.exec(name)?.[1] ?? NaN);

/** The shards of a clip-retrieval folder, in numeric order, with image and text files paired. */
export function listShards(dir: string): Shard[] {
  const imgDir = join(dir, 'img_emb');
  const textDir = join(dir, 'text_emb');
  const list = (d: string, prefix: string) =>
    readdirSync(d)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.npy'))
      .sort((a, b) => shardNumber(a) - shardNumber(b));
  const images = list(imgDir, 'img_emb_');
  const texts = list(textDir, 'text_emb_');
  if (images.length === 0) throw new Error(`${imgDir}: no img_emb_N.npy shards`);
  if (images.length !== texts.length) throw new Error(`${dir}: ${images.length} image shards but ${texts.length} text shards`);
  return images.map((f, i) => {
    if (shardNumber(f) !== shardNumber(texts[i])) throw new Error(`${dir}: shard ${f} has no matching text shard (found ${texts[i]})`);
    return { imageFile: join(imgDir, f), textFile: join(textDir, texts[i]) };
  });
}

function check2d(a: NpyArray, file: string): [number, number] {
  if (a.shape.length !== 2) throw new Error(`${file}: expected a 2-D [rows, dim] array, got shape (${a.shape.join(', ')})`);
  const bad = a.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${file}: row ${Math.floor(bad / a.shape[1])} contains ${a.data[bad]} (NaN/Inf embeddings are not allowed)`);
  return [a.shape[0], a.shape[1]];
}

/** Reads and validates one (image, text) pair of files. */
export function readPair(imageFile: string, textFile: string): { image: NpyArray; text: NpyArray } {
  return checkPair(readNpy(imageFile), imageFile, readNpy(textFile), textFile);
}

/** Validates one (image, text) pair of arrays read from the files named. */
function checkPair(image: NpyArray, imageFile: string, text: NpyArray, textFile: string): { image: NpyArray; text: NpyArray } {
  const [ni, di] = check2d(image, imageFile);
  const [nt, dt] = check2d(text, textFile);
  if (ni !== nt) throw new Error(`${imageFile} has ${ni} rows but ${textFile} has ${nt}`);
  if (di !== dt) throw new Error(`${imageFile} has dimension ${di} but ${textFile} has ${dt}`);
  return { image, text };
}

/** Streams a clip-retrieval folder shard by shard. */
export function* iterateShards(dir: string): Generator<{ shard: Shard; image: NpyArray; text: NpyArray }> {
  for (const shard of listShards(dir)) yield { shard, ...readPair(shard.imageFile, shard.textFile) };
}

/**
 * Loads every pair under `path`: a clip-retrieval folder, or a folder with `image_embeddings.npy`
 * and `text_embeddings.npy`.
 */
export function loadEmbeddingPairs(path: string): EmbeddingPairs {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new Error(`${path}: no such embeddings folder`);
  const parts: { image: NpyArray; text: NpyArray }[] = [];
  if (existsSync(join(path, 'img_emb'))) {
    for (const p of iterateShards(path)) parts.push(p);
  } else if (existsSync(join(path, 'image_embeddings.npy'))) {
    parts.push(readPair(join(path, 'image_embeddings.npy'), join(path, 'text_embeddings.npy')));
  } else {
    throw new Error(`${path}: expected img_emb/ and text_emb/ (clip-retrieval layout) or image_embeddings.npy and text_embeddings.npy`);
  }
  return joinParts(parts, path);
}

/**
 * loadEmbeddingPairs through a FileLoader (a page's fetch, which cannot list folders): the
 * clip-retrieval folder `dir` (relative to the loader's root) with `shards` shards, numbered from 0.
 */
export async function loadEmbeddingPairsFrom(loader: FileLoader, dir: string, shards = 1): Promise<EmbeddingPairs> {
  const parts: { image: NpyArray; text: NpyArray }[] = [];
  for (let i = 0; i < shards; i++) {
    const read = async (file: string) => ({ array: parseNpy(await loader.bytes(file), `${loader.root}/${file}`), label: `${loader.root}/${file}` });
    const image = await read(`${dir}/img_emb/img_emb_${i}.npy`);
    const text = await read(`${dir}/text_emb/text_emb_${i}.npy`);
    parts.push(checkPair(image.array, image.label, text.array, text.label));
  }
  return joinParts(parts, `${loader.root}/${dir}`);
}

/** The shards' rows in order, as one pair set; shards of different dimensions or no rows at all are refused. */
function joinParts(parts: { image: NpyArray; text: NpyArray }[], path: string): EmbeddingPairs {
  const dim = parts[0].image.shape[1];
  for (const p of parts) if (p.image.shape[1] !== dim) throw new Error(`${path}: shards have different dimensions (${dim} and ${p.image.shape[1]})`);
  const count = parts.reduce((n, p) => n + p.image.shape[0], 0);
  if (count === 0) throw new Error(`${path}: the dataset is empty`);
  const image = new Float32Array(count * dim);
  const text = new Float32Array(count * dim);
  let offset = 0;
  for (const p of parts) {
    image.set(p.image.data, offset);
    text.set(p.text.data, offset);
    offset += p.image.data.length;
  }
  return { image, text, count, dim, source: path };
}

/**
 * The captions of a clip-retrieval folder's pairs, in row order (the "text" of each line of
 * metadata/metadata_N.jsonl, shard by shard); null when the folder has no metadata.
 */
export function readCaptions(path: string): string[] | null {
  const dir = join(path, 'metadata');
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => /^metadata_\d+\.jsonl$/.test(f)).sort((a, b) => Number(/(\d+)/.exec(a)![1]) - Number(/(\d+)/.exec(b)![1]));
  const captions: string[] = [];
  for (const f of files) {
    readFileSync(join(dir, f), 'utf8').split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const text = (JSON.parse(line) as { text?: unknown }).text;
      if (typeof text !== 'string') throw new Error(`${join(dir, f)}: line ${i + 1} has no "text"`);
      captions.push(text);
    });
  }
  return captions;
}

/** Rows [start, end) of a pair set. */
export function subset(pairs: EmbeddingPairs, start: number, end: number): EmbeddingPairs {
  const d = pairs.dim;
  return { ...pairs, image: pairs.image.slice(start * d, end * d), text: pairs.text.slice(start * d, end * d), count: end - start };
}

/**
 * sha256 of the rows themselves (image rows, then text rows, as float32 bytes): a run records it so
 * that a resume on other data is refused even when the path and the row count are the same. It hashes
 * what training reads, not the files, so a --holdout subset and in-memory sets are covered too.
 */
export function fingerprintPairs(pairs: EmbeddingPairs): string {
  const hash = createHash('sha256');
  for (const a of [pairs.image, pairs.text]) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return hash.digest('hex');
}
