// Global switch for graph recording (`noGrad`).

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs `fn` without recording the graph: results have no gradient history. */
export function noGrad<R>(fn: () => R): R {
  const previous = enabled;
  enabled = false;
  try {
    const result = fn();
    if (result instanceof Promise) {
      // An async body: restore only after it settles.
      enabled = false;
      return result.finally(() => (enabled = previous)) as R;
    }
    enabled = previous;
    return result;
  } catch (e) {
    enabled = previous;
    throw e;
  }
}
