// Crash-safe file replacement: a reader sees either the old file or the complete new one, never a
// torn write (temp file in the same directory, fsync, rename over the target, fsync the directory).
import { basename, closeSync, dirname, fsyncSync, join, openSync, renameSync, unlinkSync, writeSync } from '#host';

/** Writes `chunks` to `path` atomically. Chunks are written in order, so large data need not be concatenated. */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(temp, 'wx', 0o644);
  let closed = false;
  let renamed = false;
  try {
    for (const chunk of chunks) {
      for (let done = 0; done < chunk.byteLength; ) done += writeSync(fd, chunk, done, chunk.byteLength - done);
    }
    fsyncSync(fd);
    closed = true;
    closeSync(fd);
    renameSync(temp, path);
    renamed = true;
    syncDirectory(dir);
  } finally {
    if (!closed) closeSync(fd);
    if (!renamed) {
      try {
        unlinkSync(temp);
      } catch {
        // nothing to clean up
      }
    }
  }
}

/** Writes `text` (UTF-8) to `path` atomically. */
export function writeTextAtomic(path: string, text: string): void {
  writeFileAtomic(path, [new TextEncoder().encode(text)]);
}

/** Makes the rename durable; some platforms cannot open a directory, which is not an error there. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
