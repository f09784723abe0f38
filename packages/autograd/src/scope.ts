// Deterministic memory management: tensors created inside `tidy` are disposed when it ends,
// except the ones it returns (and ones marked with `keep`).

export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor: registers it with the innermost scope, if any. */
export function track<T extends Disposable>(t: T): T {
  scopes[scopes.length - 1]?.add(t);
  return t;
}

/** Removes a tensor from every scope, so that only an explicit `dispose()` frees it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** The disposables in a result: itself, or inside arrays, maps and plain objects (what `tidy` keeps). */
export function collect(value: unknown, into: Set<Disposable>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  // `in` before reading: results may be proxies that throw on unknown properties.
  if ('dispose' in value && 'disposed' in value && typeof (value as Disposable).dispose === 'function') {
    into.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, into, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, into, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, into, seen);
}

function close(scope: Set<Disposable>, result: unknown): void {
  const kept = new Set<Disposable>();
  collect(result, kept);
  const popped = scopes.pop();
  if (popped !== scope) throw new Error('tidy: scopes closed out of order (an async tidy overlapped another)');
  for (const t of scope) if (!kept.has(t)) t.dispose();
  // Returned tensors now belong to the enclosing scope.
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of kept) if (scope.has(t)) parent.add(t);
}

/**
 * Runs `fn` in a scope; every tensor created in it is disposed at the end unless it is part of the
 * result (tensors in returned arrays, maps and plain objects count) or was `keep`-ed.
 * Works with async functions too, as long as async scopes do not overlap.
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => (close(scope, value), value),
      (error) => {
        close(scope, undefined);
        throw error;
      },
    ) as R;
  }
  close(scope, result);
  return result;
}
