// The adapter profile: every choice that depends on the adapter (which kernel variant runs, tile
// sizes, size thresholds, workgroup shapes) made in one place from its kind, subgroup sizes and
// limits. Ops read `profile()`; tests and benchmarks replace parts of it for the duration of one
// call with `withTuning`, which is scoped (AsyncLocalStorage), so it ends with the call even when
// that call is async and others run meanwhile (in a page, which has no AsyncLocalStorage, `withTuning`
// takes synchronous functions only: see host/host.browser.ts).
import { host } from '#host';
import type { AttentionBlocks } from '../ops/attention/kernels.ts';
import type { DirectTile } from '../ops/conv2d-direct.ts';
import type { WeightGradPlan } from '../ops/conv2d-weight-grad.ts';
import type { GemmConfig } from '../ops/gemm/tile.ts';
import { rt } from './current.ts';
import type { AdapterKind, DeviceInfo } from './device.ts';

/**
 * 'lavapipe': texture + subgroup kernel (falls back to `matmul.fallback` where it cannot run);
 * 'nvidia': register-blocked 128×128 or 64×64 double-buffered tiles; 'portable': 64×64 tiles,
 * single-buffered; 'classic': 16×16 one-element-per-thread tiles (the benchmark reference).
 */
export type MatmulVariant = 'lavapipe' | 'nvidia' | 'portable' | 'classic';

/**
 * 'texture': sources in zero-padded rgba32float textures, weights shared by subgroupBroadcast
 * (lavapipe: texel fetches are vectorised, storage loads are per-lane loops); 'subgroup': the same
 * from storage buffers; 'tiled': implicit GEMM with workgroup-memory tiles (discrete GPUs);
 * 'portable': plain loads, any adapter.
 */
export type Conv2dVariant = 'texture' | 'subgroup' | 'tiled' | 'portable';

/**
 * 'subgroup': streamed rows packed into textures, shared by subgroup broadcast/shuffle, one 8-lane
 * subgroup per workgroup (lavapipe); 'tiled': streamed rows staged in workgroup-memory tiles (any adapter).
 */
export type AttentionVariant = 'subgroup' | 'tiled';

/** The texture kernels (matmul 'lavapipe', attention 'subgroup') are written for 8-lane subgroups: lavapipe's SIMD width. */
export const TEXTURE_KERNEL_LANES = 8;

/**
 * How the host waits for the GPU. 'spin': Dawn's Node binding polls its events from setImmediate,
 * keeping a core busy while anything is pending. 'yield': the runtime makes those polls 1 ms timers
 * while it waits, leaving the cores to lavapipe, which runs the kernels on them (measured: 20
 * 512³ matmuls on 2 cores, 283 → 149 ms).
 */
export type HostWait = 'spin' | 'yield';

export interface AdapterProfile {
  kind: AdapterKind;
  host: { wait: HostWait };
  subgroup: {
    /**
     * The size of every subgroup when the adapter has 'subgroups' and its minimum and maximum sizes
     * agree, else 0. Kernels that broadcast or shuffle across a whole subgroup are generated for it.
     */
    fixed: number;
    /** The smallest subgroup size with 'subgroups', else 0: enough for splitting a row over at most that many lanes. */
    min: number;
  };
  matmul: {
    variant: MatmulVariant;
    /** The buffer kernel for problems the 'lavapipe' texture kernel cannot take. */
    fallback: 'nvidia' | 'portable';
    /** The 'nvidia' kernel takes 128×128 tiles (else 64×64) from this many 128×128 tiles of C… */
    bigTilesFrom: number;
    /** …counting the tiles of every batch (true), or of one matrix (false). */
    bigTilesCountBatches: boolean;
    /** The tiled kernel's k loop has a constant trip count (unrollable) rather than a uniform one. */
    constantKLoop: boolean;
  };
  conv2d: {
    variant: Conv2dVariant;
    /** The 'tiled' GEMMs take the large tile (GEMM_LARGE) from this many 128×128 tiles (all groups and chunks); Infinity (null in JSON): never. */
    gemmBigTilesFrom: number;
    /** Workgroups the direct weight gradient aims for when it splits the N·OH·OW reduction. */
    weightGradWorkgroups: number;
    /** The direct kernels unroll all taps of kernels up to this many (KH·KW); larger ones loop over kernel rows. */
    unrollTaps: number;
    /** Tuning only (undefined: chosen per problem): the 'tiled' GEMM tile. */
    gemm?: GemmConfig;
    /** Tuning only: parts of the direct kernels' tile. */
    tile?: Partial<DirectTile>;
    /** Tuning only: where the subgroup weight mode reads its weights. */
    weightSource?: 'buffer' | 'texture';
    /** Tuning only: parts of the direct weight-gradient plan. */
    weightGrad?: Partial<WeightGradPlan>;
  };
  attention: {
    variant: AttentionVariant;
    /** Bytes of workgroup memory the 'tiled' variant's tiles may fill. */
    workgroupMemory: number;
    /** Tuning only: block sizes replacing the chosen ones. */
    blocks?: Partial<AttentionBlocks>;
  };
  /** The reduction-style kernels (reduce, softmax, norms, cross-entropy, group norm). */
  reduce: {
    /** Invocations per workgroup. */
    threads: number;
    /** Lanes per contiguous row; null: a warp (32), or the whole workgroup for rows of ≥ 4096 units. */
    rowLanes: number | null;
    /** Subgroup size the lanes shuffle with, 0 for the shared-memory tree. */
    subgroup: number;
    /** Workgroups a long reduction is split into, at least, when it is long enough. */
    splitTarget: number;
    /** Row units (scalars or vec4s) a lane keeps in registers between passes. */
    maxCached: number;
  };
}

/** What `withTuning` may replace: parts of the op sections (the adapter's kind and subgroups stay). */
export type Tuning = { [S in 'matmul' | 'conv2d' | 'attention' | 'reduce']?: Partial<AdapterProfile[S]> };

/** The profile for an adapter. */
export function adapterProfile(info: DeviceInfo): AdapterProfile {
  const { kind } = info;
  const lavapipe = kind === 'lavapipe';
  const nvidia = kind === 'nvidia';
  const hasSubgroups = info.features.includes('subgroups');
  const { min, max } = info.subgroupSize;
  const fixed = hasSubgroups && min > 0 && min === max ? min : 0;
  return {
    kind,
    // Lavapipe shares the CPU with the host; a real GPU answers sooner than a 1 ms timer.
    host: { wait: lavapipe ? 'yield' : 'spin' },
    subgroup: { fixed, min: hasSubgroups ? min : 0 },
    matmul: {
      variant: lavapipe ? 'lavapipe' : nvidia ? 'nvidia' : 'portable',
      fallback: nvidia ? 'nvidia' : 'portable',
      // NVIDIA: an H100 has 132 SMs; with fewer big tiles than about 1.5 waves of them (200), 64×64
      // tiles finish sooner. Not measured yet (see conv2d.gemmBigTilesFrom). Elsewhere the 'nvidia'
      // kernel only runs when a test or benchmark forces it: from 4 tiles of one matrix, so that
      // small test problems reach the 128×128 tiles too.
      bigTilesFrom: nvidia ? 200 : 4,
      bigTilesCountBatches: nvidia,
      // On lavapipe (where the tiled kernels only run in tests) the unrolled per-lane workgroup
      // loads take seconds to compile.
      constantKLoop: !lavapipe,
    },
    conv2d: {
      // SwiftShader (Chromium without a GPU) compiles the texture kernels in ~0.2 s, the tiled GEMM
      // in seconds, and the buffer-source direct kernels ('portable', 'subgroup') not within a
      // minute (measured in Chromium 156 with 4-lane subgroups): a page there would hang on its
      // first convolution.
      variant: (lavapipe || kind === 'swiftshader') && fixed > 0 ? 'texture' : nvidia ? 'tiled' : 'portable',
      // NVIDIA: two full waves of an H100's 132 SMs (264). Set apart from matmul.bigTilesFrom (200)
      // and, like it, not measured on NVIDIA yet: unify the two once a run there says which is right
      // (either change moves some shapes to the other tile). Never on other adapters unless tuned.
      gemmBigTilesFrom: nvidia ? 264 : Infinity,
      // Enough workgroups to fill the device: a few CPU cores under lavapipe, many SMs elsewhere.
      weightGradWorkgroups: lavapipe ? 64 : 2048,
      // SwiftShader's shader compiler did not finish a 4×4 kernel with unrolled taps within two
      // minutes (Chromium's GPU watchdog then drops the device); with its rows looped it compiles
      // like the others. 3×3 (9 taps, the UNet's and VAE's) stays unrolled everywhere.
      unrollTaps: kind === 'swiftshader' ? 9 : 16,
    },
    attention: {
      variant: lavapipe && fixed === TEXTURE_KERNEL_LANES ? 'subgroup' : 'tiled',
      // NVIDIA has 48 KiB of workgroup memory; other adapters are only promised 16 KiB.
      workgroupMemory: Math.min(info.limits.maxComputeWorkgroupStorageSize ?? 16384, nvidia ? 48 * 1024 : 32 * 1024),
    },
    reduce: {
      // Lavapipe gains nothing from wide workgroups (2 cores, costly barriers).
      threads: lavapipe ? 64 : 256,
      // Lavapipe is fastest with one 8-lane subgroup per row (shuffles, no barrier; measured 2-3x
      // over 64 lanes).
      rowLanes: lavapipe ? max || 32 : null,
      // Shuffles need a known, fixed size of at least 4 (see makeLanes in ops/reduce-kit.ts).
      subgroup: fixed >= 4 ? fixed : 0,
      // A device with many cores wants enough workgroups in flight; lavapipe's few cores do not.
      splitTarget: lavapipe ? 4 : 512,
      // Lavapipe: every cached unit is an unrolled storage load whose compile time grows steeply
      // (16 took tens of seconds) and which stops paying off past ~4. NVIDIA: bounded by registers.
      maxCached: lavapipe ? 4 : 8,
    },
  };
}

/** The variants of each op this adapter can run, its own choice first. */
export function runnableVariants(p: AdapterProfile): { matmul: MatmulVariant[]; conv2d: Conv2dVariant[]; attention: AttentionVariant[] } {
  const eight = p.subgroup.fixed === TEXTURE_KERNEL_LANES;
  const ownFirst = <T>(own: T, all: T[]) => [own, ...all.filter((v) => v !== own)];
  return {
    matmul: ownFirst(p.matmul.variant, eight ? ['lavapipe', 'nvidia', 'portable', 'classic'] : ['nvidia', 'portable', 'classic']),
    conv2d: ownFirst(p.conv2d.variant, p.subgroup.fixed > 0 ? ['texture', 'subgroup', 'tiled', 'portable'] : ['tiled', 'portable']),
    attention: ownFirst(p.attention.variant, eight ? ['subgroup', 'tiled'] : ['tiled']),
  };
}

interface Scope {
  profile: AdapterProfile;
  /** The overrides in force (merged over the enclosing scopes). */
  tuning: Tuning;
}

const scopes = host.scopeStore<Scope>();
let cached: { info: DeviceInfo; profile: AdapterProfile } | undefined;

/** The profile in force: the shared runtime's adapter's, with the overrides of any enclosing `withTuning`. */
export function profile(): AdapterProfile {
  const scope = scopes.getStore();
  if (scope) return scope.profile;
  const info = rt().info;
  if (cached?.info !== info) cached = { info, profile: adapterProfile(info) };
  return cached.profile;
}

/** The overrides in force ({} outside `withTuning`): lets an op refuse a requested variant rather than replace it. */
export function tuning(): Tuning {
  return scopes.getStore()?.tuning ?? {};
}

/**
 * Runs `fn` (sync or async) with parts of the profile replaced, e.g.
 * `withTuning({ matmul: { variant: 'portable' } }, () => matmul(a, b))`. Scopes nest; an undefined
 * value leaves the enclosing choice in place. For tests, benchmarks and tuning on new adapters.
 */
export function withTuning<T>(overrides: Tuning, fn: () => T): T {
  const outer = profile();
  const outerTuning = tuning();
  const inner = { ...outer };
  const innerTuning: Tuning = { ...outerTuning };
  for (const section of ['matmul', 'conv2d', 'attention', 'reduce'] as const) {
    const given = overrides[section];
    if (!given) continue;
    const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
    Object.assign(inner, { [section]: { ...outer[section], ...defined } });
    Object.assign(innerTuning, { [section]: { ...outerTuning[section], ...defined } });
  }
  return scopes.run({ profile: inner, tuning: innerTuning }, fn);
}
