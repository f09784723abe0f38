// The runtime's platform in a page: the browser's own WebGPU (navigator.gpu). Reached through the
// "#host" import under the bundler's "browser" condition (see host.ts).
import type { Host, ScopeStore } from './host.ts';

/**
 * A page has no AsyncLocalStorage, so a scope here covers the synchronous run of `fn` only. An async
 * `fn` would leave its scope at its first await and run the rest with the enclosing choices, silently;
 * it is refused instead (its scope is already closed when the refusal is thrown).
 */
class SyncScopeStore<T> implements ScopeStore<T> {
  private current: T | undefined;

  getStore(): T | undefined {
    return this.current;
  }

  run<R>(store: T, fn: () => R): R {
    const outer = this.current;
    this.current = store;
    let result: R;
    try {
      result = fn();
    } finally {
      this.current = outer;
    }
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      throw new Error('withTuning: in a page the function must be synchronous (there is no AsyncLocalStorage to carry the tuning across its awaits); run the ops inside it and await their results outside');
    }
    return result;
  }
}

export const host: Host = {
  async gpu() {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      throw new Error(
        'WebGPU unavailable: navigator.gpu is missing. Use a browser with WebGPU enabled, from a secure context ' +
          '(https or localhost); Chromium on Linux needs --enable-unsafe-webgpu.',
      );
    }
    return gpu;
  },
  noAdapterHelp:
    'WebGPU unavailable: navigator.gpu.requestAdapter() returned no adapter (the GPU or its driver is blocked, ' +
    'or there is none; headless Chromium on Linux needs --enable-unsafe-webgpu and a Vulkan driver or SwiftShader).',
  scopeStore: <T>() => new SyncScopeStore<T>(),
};
