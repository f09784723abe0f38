import { initRuntime, profile, runnableVariants, type AdapterProfile } from '@sd/kernels';

export async function infoCommand(options: { json?: boolean }): Promise<void> {
  const rt = await initRuntime();
  const { info } = rt;
  const p = profile();
  if (options.json) {
    console.log(JSON.stringify({ ...info, profile: p, runnable: runnableVariants(p) }));
  } else {
    console.log(`adapter:   ${info.description} (${info.vendor}, ${info.architecture}) → kernels for "${info.kind}"`);
    console.log(`features:  ${info.features.join(', ') || '(none of shader-f16, subgroups, timestamp-query)'}`);
    console.log(`subgroups: ${info.subgroupSize.min}–${info.subgroupSize.max} lanes`);
    const l = info.limits;
    console.log(`limits:    storage binding ${l.maxStorageBufferBindingSize} B, buffer ${l.maxBufferSize} B, workgroup storage ${l.maxComputeWorkgroupStorageSize} B, ${l.maxComputeInvocationsPerWorkgroup} invocations`);
    console.log('profile:');
    for (const line of profileLines(p)) console.log(`  ${line}`);
  }
  process.exit(0);
}

/** One line per section of the profile, with the variants the adapter can run. */
function profileLines(p: AdapterProfile): string[] {
  const runnable = runnableVariants(p);
  const fields = (o: object) =>
    Object.entries(o)
      .filter(([key]) => key !== 'variant')
      .map(([key, v]) => `${key} ${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(', ');
  return [
    `subgroup:  fixed ${p.subgroup.fixed || 'none'}, min ${p.subgroup.min || 'none'}`,
    `matmul:    ${p.matmul.variant} (runnable: ${runnable.matmul.join(', ')}); ${fields(p.matmul)}`,
    `conv2d:    ${p.conv2d.variant} (runnable: ${runnable.conv2d.join(', ')}); ${fields(p.conv2d)}`,
    `attention: ${p.attention.variant} (runnable: ${runnable.attention.join(', ')}); ${fields(p.attention)}`,
    `reduce:    ${fields(p.reduce)}`,
  ];
}
