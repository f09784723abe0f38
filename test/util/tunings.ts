// Configurations of the reduction-style kernels that other adapters get, run on this one (so that
// lavapipe exercises them too): the portable shared-memory tree with NVIDIA-sized workgroups, a
// whole workgroup per row and many splits; and subgroup shuffles with a warp (32 lanes) per row.
import type { Tuning } from '@sd/kernels';

export const OTHER_ADAPTER_REDUCE: Array<NonNullable<Tuning['reduce']>> = [
  { subgroup: 0, threads: 256, rowLanes: 256, splitTarget: 512, maxCached: 8 },
  { threads: 256, rowLanes: 32, maxCached: 8 },
];
