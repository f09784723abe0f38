import { beforeAll } from 'vitest';
import { initRuntime } from '@sd/kernels';

beforeAll(async () => {
  const rt = await initRuntime();
  rt.poisonAllocations = true;
});
