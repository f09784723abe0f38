import { initRuntime } from '@sd/kernels';

export async function infoCommand(options: { json?: boolean }): Promise<void> {
  const rt = await initRuntime();
  const { info } = rt;
  if (options.json) {
    console.log(JSON.stringify(info));
  } else {
    console.log(`adapter:   ${info.description} (${info.vendor}, ${info.architecture}) → kernels for "${info.kind}"`);
    console.log(`features:  ${info.features.join(', ') || '(none of shader-f16, subgroups, timestamp-query)'}`);
    console.log(`subgroups: ${info.subgroupSize.min}–${info.subgroupSize.max} lanes`);
    const l = info.limits;
    console.log(`limits:    storage binding ${l.maxStorageBufferBindingSize} B, buffer ${l.maxBufferSize} B, workgroup storage ${l.maxComputeWorkgroupStorageSize} B, ${l.maxComputeInvocationsPerWorkgroup} invocations`);
  }
  process.exit(0);
}
