import { afterAll, beforeAll } from 'vitest';
import { initRuntime, releaseCaches, verifyKernelKeys } from '@sd/kernels';

beforeAll(async () => {
  const rt = await initRuntime();
  rt.poisonAllocations = true;
  verifyKernelKeys(true); // every memoised kernel source is checked against a fresh build
});

// All test files share one process and one device, and the suite compiles thousands of kernels. On
// lavapipe each compiled pipeline and each allocation holds memory mappings, and past the kernel's
// limit (vm.max_map_count, 65,530) the driver crashes: the suite peaked near 50,000 and then crossed
// it. So after each file its pipelines, pooled buffers, textures and bind groups are released and
// collected (vitest.config.ts passes --expose-gc); the peak is then one file's worth, ~23,000.
afterAll(() => {
  releaseCaches({ pipelines: true });
  (globalThis as { gc?: () => void }).gc?.();
});
