// Node's file system, path and zlib, for the readers and writers that take paths. Reached through the
// "#host" import (package.json): a page bundle gets host.browser.ts instead, whose functions say that
// files are read with a loader there (see loader.ts), so @sd/io's byte parsers work in a page.
export { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
export { readFile } from 'node:fs/promises';
export { basename, dirname, join } from 'node:path';
export * as zlib from 'node:zlib';
