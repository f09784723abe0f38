// Tests that a bad call throws a message naming the op and the shapes before anything is dispatched.
import { expect, it } from 'vitest';
import { rt } from '@sd/kernels';

/** What is wrong, a setup that builds the inputs (uploads may dispatch) and returns the bad call, and the message expected. */
export type BadCall = [what: string, setup: () => () => unknown, message: RegExp];

/** One test per bad call: it throws `message` and dispatches nothing. */
export function itRejectsBeforeDispatch(bad: BadCall[]): void {
  for (const [what, setup, message] of bad) {
    it(`rejects ${what} before dispatching`, async () => {
      const fn = setup();
      await rt().sync();
      const before = rt().stats.dispatches;
      expect(fn).toThrow(message);
      expect(rt().stats.dispatches).toBe(before);
    });
  }
}
