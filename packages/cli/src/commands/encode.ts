// `sd encode <imagefolder>`: images and captions of a Hugging Face imagefolder → clip-retrieval layout,
// with one CLIP or several (a MultiCLIP: the embeddings side by side).
import { initRuntime } from '@sd/kernels';
import { defaultClipPath, encodeToRetrievalLayout, MultiCLIP, openClip, readImageFolder, type ImageTextEncoder } from '@sd/models';

export async function encodeCommand(folder: string, o: { out: string; clip: string[]; clipNormalize: string }): Promise<void> {
  if (o.clipNormalize !== 'per-model' && o.clipNormalize !== 'none') {
    throw new Error(`sd encode: --clip-normalize must be 'per-model' or 'none', got '${o.clipNormalize}'`);
  }
  await initRuntime();
  const entries = await readImageFolder(folder, { loadImages: true });
  const paths = o.clip.length ? o.clip : [defaultClipPath()];
  const models = paths.map((p) => openClip(p));
  const encoder: ImageTextEncoder = models.length === 1 ? models[0] : new MultiCLIP(models, { normalize: o.clipNormalize === 'per-model' });
  const items = entries.map((e) => ({ image: e.image!, text: e.text, metadata: { file_name: e.fileName, ...e.extra } }));
  const result = await encodeToRetrievalLayout(encoder, items, o.out);
  const context = Math.min(...models.map((m) => m.contextLength));
  if (result.truncated > 0) console.warn(`sd encode: ${result.truncated} of ${result.count} captions exceed ${context} tokens and were truncated`);
  const what = models.length === 1 ? '' : ` (${models.length} CLIPs side by side: ${models.map((m) => m.embedDim).join(' + ')}, ${o.clipNormalize === 'per-model' ? 'each unit-normalised' : 'raw'})`;
  console.log(`encoded ${result.count} pairs (${result.dim}-d${what}) into ${o.out}/img_emb, ${o.out}/text_emb, ${o.out}/metadata`);
}
