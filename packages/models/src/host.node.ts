// Node's modules, for every module of @sd/models that a page's imports reach (page.ts): loading,
// the tokenizer, generation, and what those files also hold (trainers, datasets). Reached through the
// "#host" import (package.json): a page bundle gets host.browser.ts, where reading by path throws
// (pages read with a FileLoader) and the tokenizer's gunzip and SHA-256 are pure JavaScript. Modules
// a page never reaches (the CLIs' helpers, the decoder trainer) import node: directly.
export { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
export { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
export { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
export { fileURLToPath } from 'node:url';
export { createHash } from 'node:crypto';
export { gunzipSync } from 'node:zlib';

/** Base64 text → bytes. */
export const fromBase64 = (text: string): Uint8Array => Buffer.from(text, 'base64');
