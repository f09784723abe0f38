// Replacing a directory only once its successor is complete (the committed embedded split must
// never be left half-rebuilt).
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Builds the new contents in a temporary sibling of `dir` (same parent, so the renames stay on one
 * file system), then swaps it in: `dir` → `.name.old-…`, the new one → `dir`, the old one removed.
 * A failing `build` removes only its temporary directory and leaves `dir` untouched. (Node has no
 * atomic exchange of two directories; between the two renames `dir` is briefly absent, but the old
 * contents are whole under the `.old-` name.)
 */
export async function replaceDirectory(dir: string, build: (tmp: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, `.${basename(dir)}.new-`));
  try {
    await build(tmp);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  const old = tmp.replace(/\.new-([^/\\]+)$/, '.old-$1');
  const hadOld = existsSync(dir);
  if (hadOld) renameSync(dir, old);
  renameSync(tmp, dir);
  if (hadOld) rmSync(old, { recursive: true, force: true });
}
