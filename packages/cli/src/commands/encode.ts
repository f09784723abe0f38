// `sd encode <imagefolder>`: images and captions of a Hugging Face imagefolder → clip-retrieval layout,
// with one CLIP or several (a MultiCLIP: the embeddings side by side).
import { initRuntime } from '@sd/kernels';
import { encodeToRetrievalLayout, encoderContextLength, encoderModels, openClips, readImageFolder } from '@sd/models';
import { clipNormalizeOption, clipSources } from '../parts.ts';

export async function encodeCommand(folder: string, o: { out: string; clip: string[]; clipNormalize: string }): Promise<void> {
  const normalize = clipNormalizeOption('sd encode', o.clipNormalize);
  await initRuntime();
  const entries = await readImageFolder(folder, { loadImages: true });
  const encoder = openClips(clipSources(o.clip, normalize).paths, { normalize });
  const models = encoderModels(encoder);
  const items = entries.map((e) => ({ image: e.image!, text: e.text, metadata: { file_name: e.fileName, ...e.extra } }));
  const result = await encodeToRetrievalLayout(encoder, items, o.out);
  if (result.truncated > 0) console.warn(`sd encode: ${result.truncated} of ${result.count} captions exceed ${encoderContextLength(encoder)} tokens and were truncated`);
  const what = models.length === 1 ? '' : ` (${models.length} CLIPs side by side: ${models.map((m) => m.embedDim).join(' + ')}, ${normalize ? 'each unit-normalised' : 'raw'})`;
  console.log(`encoded ${result.count} pairs (${result.dim}-d${what}) into ${o.out}/img_emb, ${o.out}/text_emb, ${o.out}/metadata`);
}
