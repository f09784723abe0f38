// Giving memory back between phases of a long-lived process (a test suite, a server between jobs):
// everything the kernels keep for reuse — pooled buffers, cached bind groups, the operand textures
// of the texture kernels — is destroyed or dropped, and rebuilt on demand. Compiled pipelines stay.
// Why it matters on lavapipe: each allocation there is a memory mapping, and a process past the
// kernel's map limit (vm.max_map_count, 65,530) crashes inside the driver.
import { releaseAttentionScratch } from './ops/attention/textures.ts';
import { releaseConv2dScratch } from './ops/conv2d-pack.ts';
import { evictAll } from './ops/matmul/textures.ts';
import { rt } from './runtime/current.ts';

/**
 * Destroys the pooled buffers and scratch textures and drops the cached bind groups (after
 * submitting pending work); with `pipelines`, the compiled kernels too (each holds the driver's
 * compiled code until it is garbage-collected; they recompile on next use, from Mesa's disk cache).
 */
export function releaseCaches(options: { pipelines?: boolean } = {}): void {
  rt().flush();
  if (options.pipelines) rt().forgetKernels();
  evictAll();
  releaseConv2dScratch();
  releaseAttentionScratch();
  rt().trimPool();
}
