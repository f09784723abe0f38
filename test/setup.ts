import { beforeAll } from 'vitest';
import { initRuntime, verifyKernelKeys } from '@sd/kernels';

beforeAll(async () => {
  const rt = await initRuntime();
  rt.poisonAllocations = true;
  verifyKernelKeys(true); // every memoised kernel source is checked against a fresh build
});
