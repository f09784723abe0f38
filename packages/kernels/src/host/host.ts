// What the runtime needs from the platform it runs on, and nothing else: the WebGPU entry point and
// a way to scope values to a call (AsyncLocalStorage's shape). Node (host.node.ts: Dawn through the
// npm `webgpu` package, node:async_hooks) and the page (host.browser.ts: navigator.gpu) each provide
// it; package.json's "imports" picks one by the bundler's "browser" condition, so a page bundle
// never reaches 'webgpu' or a node: module, and Node resolves exactly what it used before.

/** AsyncLocalStorage's interface, as far as withTuning uses it. */
export interface ScopeStore<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
}

export interface Host {
  /** The WebGPU entry point (navigator.gpu's interface); throws, saying why, where there is none. */
  gpu(): Promise<GPU>;
  /** What to tell the user when the entry point has no adapter to give. */
  noAdapterHelp: string;
  scopeStore<T>(): ScopeStore<T>;
}
