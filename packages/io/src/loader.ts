// Reading files where there may be no file system: a loader gives a file's bytes by path, from a
// folder in Node (fs) or from a base URL in a page (fetch). Code that loads models for both takes a
// loader and the same relative paths (`default-vae/config.json`); the path-taking readers Node code
// already uses (readSafetensors(path), …) are unchanged.
import { join, readFile } from '#host';

export interface FileLoader {
  /** Where paths are resolved (a folder or a URL), for messages. */
  readonly root: string;
  /** The bytes of `path`; rejects with an error naming the file when it cannot be read. */
  bytes(path: string): Promise<Uint8Array>;
  /** The text of `path` (UTF-8). */
  text(path: string): Promise<string>;
}

const utf8 = new TextDecoder();

/** Files under `root` (default: the working directory) with Node's fs. Not available in a page. */
export function fileLoader(root = '.'): FileLoader {
  const bytes = async (path: string): Promise<Uint8Array> => {
    const file = join(root, path);
    try {
      const data = await readFile(file);
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (e) {
      throw new Error(`${file}: cannot read (${(e as Error).message})`);
    }
  };
  return { root, bytes, text: async (path) => utf8.decode(await bytes(path)) };
}

/** Files under the URL `base` with fetch (a page; Node 18+ has fetch too). A status other than 2xx is an error naming the URL. */
export function fetchLoader(base: string | URL): FileLoader {
  const root = String(base).endsWith('/') ? String(base) : `${String(base)}/`;
  const bytes = async (path: string): Promise<Uint8Array> => {
    const url = new URL(path, root);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new Error(`${url}: cannot fetch (${(e as Error).message})`);
    }
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
    return new Uint8Array(await response.arrayBuffer());
  };
  return { root, bytes, text: async (path) => utf8.decode(await bytes(path)) };
}
