// The runtime's platform in Node: Dawn (the npm `webgpu` package) and AsyncLocalStorage. Reached
// through the "#host" import (see host.ts); a page bundle gets host.browser.ts instead.
import { AsyncLocalStorage } from 'node:async_hooks';
import { create, globals } from 'webgpu';
import type { Host } from './host.ts';

// Dawn crashes (SIGSEGV) if the object returned by create() is garbage-collected, so it lives here forever.
let dawn: GPU | undefined;

export const host: Host = {
  async gpu() {
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    if (!dawn) {
      Object.assign(globalThis, globals);
      dawn = create([]);
      (globalThis as Record<string, unknown>).__sdDawnInstance = dawn; // belt and braces: never collected
    }
    return dawn;
  },
  noAdapterHelp:
    'No WebGPU adapter found. Install a Vulkan driver: on Debian 12 run `bash scripts/install-lavapipe.sh` as root ' +
    "(Mesa's lavapipe from bookworm-backports; bookworm's own Mesa 22.3 is rejected by Dawn), " +
    'and make sure XDG_RUNTIME_DIR is set.',
  scopeStore: <T>() => new AsyncLocalStorage<T>(),
};
