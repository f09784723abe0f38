// Acquires the one shared WebGPU device and reports what it has. The WebGPU entry point comes from
// the host (Dawn in Node, navigator.gpu in a page: see host/host.ts).
import { host } from '#host';

/** 'swiftshader': Chromium's fallback adapter where there is no GPU (a CPU Vulkan, like lavapipe). */
export type AdapterKind = 'lavapipe' | 'nvidia' | 'swiftshader' | 'other';

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

/** What to do when there is no adapter, for this platform (Node: install lavapipe; a page: enable WebGPU). */
export const NO_ADAPTER_HELP = host.noAdapterHelp;

function classify(info: GPUAdapterInfo): AdapterKind {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'lavapipe';
  if (text.includes('nvidia')) return 'nvidia';
  if (text.includes('swiftshader')) return 'swiftshader';
  return 'other';
}

export async function acquireDevice(): Promise<{ device: GPUDevice; info: DeviceInfo }> {
  const gpu = await host.gpu();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
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
