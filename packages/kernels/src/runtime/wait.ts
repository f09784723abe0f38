// Waiting for the GPU without taking a CPU core from it. Dawn's Node binding processes its events
// (mapAsync, onSubmittedWorkDone, error scopes) from a `setImmediate` loop that runs as long as any
// of them is pending: a busy poll. On lavapipe the "GPU" is the same two CPU cores, so the poll
// halves the speed of the kernels it waits for. The binding looks the global `setImmediate` up at
// every tick, so while the runtime waits it is replaced by a 1 ms timer. A counter keeps nested and
// concurrent waits from restoring it early.
type Immediate = typeof setImmediate;

let waiting = 0;
let original: Immediate | null = null;

const timerTick = ((callback: (...args: unknown[]) => void, ...args: unknown[]) => setTimeout(callback, 1, ...args)) as unknown as Immediate;

/** Awaits `promise` with Dawn's event polling on a timer instead of a busy loop. */
export async function awaitYielding<T>(promise: Promise<T>): Promise<T> {
  if (typeof setImmediate !== 'function') return promise; // not Node: nothing polls
  if (waiting++ === 0) {
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
