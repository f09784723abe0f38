// `sd encode <imagefolder>`: images and captions of a Hugging Face imagefolder → clip-retrieval layout.
import { initRuntime } from '@sd/kernels';
import { defaultClipPath, encodeToRetrievalLayout, loadExportedClip, readImageFolder } from '@sd/models';

export async function encodeCommand(folder: string, o: { out: string; clip?: string }): Promise<void> {
  await initRuntime();
  const entries = await readImageFolder(folder, { loadImages: true });
  const model = loadExportedClip(o.clip ?? defaultClipPath());
  const items = entries.map((e) => ({ image: e.image!, text: e.text, metadata: { file_name: e.fileName, ...e.extra } }));
  const result = await encodeToRetrievalLayout(model, items, o.out);
  if (result.truncated > 0) console.warn(`sd encode: ${result.truncated} of ${result.count} captions exceed ${model.contextLength} tokens and were truncated`);
  console.log(`encoded ${result.count} pairs (${result.dim}-d) into ${o.out}/img_emb, ${o.out}/text_emb, ${o.out}/metadata`);
}
