// Waiting for the GPU without taking a CPU core from it. Dawn's Node binding processes its events
// (mapAsync, onSubmittedWorkDone, error scopes) from a `setImmediate` loop that runs as long as any
// of them is pending: a busy poll. On lavapipe the "GPU" is the same two CPU cores, so the poll
// halves the speed of the kernels it waits for. The binding looks the global `setImmediate` up at
// every tick, so while the runtime waits it is replaced by a 1 ms timer — for everyone in the process
// during that wait, which only ever delays an immediate by a millisecond. A counter keeps nested and
// concurrent waits from restoring it early.
type Immediate = typeof setImmediate;

let waiting = 0;
let original: Immediate | null = null;

/** Handles given out in place of Immediates: clearImmediate must route them to clearTimeout. */
const substitutes = new WeakSet<object>();
const timerTick = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => {
  const handle = setTimeout(callback, 1, ...args);
  substitutes.add(handle);
  return handle;
}) as unknown as Immediate;

let clearInstalled = false;
/**
 * Someone may clear a handle they got during a wait, even after it: clearImmediate on a Timeout
 * would corrupt Node's immediate queue, so it is wrapped once, for good, to send those to clearTimeout.
 */
function installClear(): void {
  if (clearInstalled) return;
  clearInstalled = true;
  const clearOriginal = globalThis.clearImmediate;
  globalThis.clearImmediate = ((handle: unknown) => {
    if (handle && typeof handle === 'object' && substitutes.has(handle)) clearTimeout(handle as NodeJS.Timeout);
    else clearOriginal(handle as NodeJS.Immediate);
  }) as typeof clearImmediate;
}

/** Awaits `promise` with Dawn's event polling on a timer instead of a busy loop. */
export async function awaitYielding<T>(promise: Promise<T>): Promise<T> {
  if (typeof setImmediate !== 'function') return promise; // not Node: nothing polls
  if (waiting++ === 0) {
    installClear();
    original = globalThis.setImmediate;
    globalThis.setImmediate = timerTick;
  }
  try {
    return await promise;
  } finally {
    if (--waiting === 0) {
      globalThis.setImmediate = original!;
      original = null;
    }
  }
}
