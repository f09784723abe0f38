import { defineConfig } from 'vitest/config';

// One process for every test file: lavapipe already uses both cores, and one Dawn instance is
// cheaper (and safer: it must never be collected) than one per file. --expose-gc: test/setup.ts
// collects each file's released kernels (see there why).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true, execArgv: ['--expose-gc'] } },
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
