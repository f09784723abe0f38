// Acquires the one shared WebGPU device (Dawn through the npm `webgpu` package) and reports what it has.
import { create, globals } from 'webgpu';

export type AdapterKind = 'lavapipe' | 'nvidia' | 'other';

export interface DeviceInfo {
  kind: AdapterKind;
  vendor: string;
  architecture: string;
  description: string;
  features: string[];
  subgroupSize: { min: number; max: number };
  limits: Record<string, number>;
}

/** Optional features we use when the adapter has them. */
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

// Dawn crashes (SIGSEGV) if the object returned by create() is garbage-collected, so it lives here forever.
let dawn: GPU | undefined;

export const NO_ADAPTER_HELP =
  'No WebGPU adapter found. Install a Vulkan driver: on Debian 12 run `bash scripts/install-lavapipe.sh` as root ' +
  "(Mesa's lavapipe from bookworm-backports; bookworm's own Mesa 22.3 is rejected by Dawn), " +
  'and make sure XDG_RUNTIME_DIR is set.';

function classify(info: GPUAdapterInfo): AdapterKind {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'lavapipe';
  if (text.includes('nvidia')) return 'nvidia';
  return 'other';
}

export async function acquireDevice(): Promise<{ device: GPUDevice; info: DeviceInfo }> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  if (!dawn) {
    Object.assign(globalThis, globals);
    dawn = create([]);
    (globalThis as Record<string, unknown>).__sdDawnInstance = dawn; // belt and braces: never collected
  }
  const adapter = await dawn.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);

  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  const device = await adapter.requestDevice({
    requiredFeatures: features as GPUFeatureName[],
    requiredLimits: limits,
    label: 'sd-device',
  });
  const info = adapter.info;
  const subgroupInfo = info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
  return {
    device,
    info: {
      kind: classify(info),
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description || info.device,
      features: [...features],
      subgroupSize: { min: subgroupInfo.subgroupMinSize ?? 0, max: subgroupInfo.subgroupMaxSize ?? 0 },
      limits,
    },
  };
}
