// `pnpm bench --browser` as a user runs it (bench/index.ts in a child process): one cheap case group
// (`add`, the elementwise cases) in headless Chromium prints JSON rows like the Node run's, on
// Chromium's own adapter (SwiftShader here, named in every row); a filter that matches no case and an
// unknown option end the command with the runner's messages.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/harness.ts';
import { ROOT } from '../../scripts/page.ts';

/** Runs `pnpm bench` with `args`; resolves to its exit code and output (never rejects). */
function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'node_modules/.bin/tsx'), ['bench/index.ts', ...args], { cwd: ROOT, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('pnpm bench --browser', () => {
  it('add --repeats 3 --json: one JSON row per shape, positive times, on the SwiftShader adapter', async () => {
    const { code, stdout, stderr } = await bench(['--browser', 'add', '--repeats', '3', '--json']);
    expect(code, stderr).toBe(0);
    const rows = stdout.trim().split('\n').map((line) => JSON.parse(line) as BenchResult);
    expect(rows.map((r) => [r.kernel, r.shape, r.variant])).toEqual([
      ['add', '[1048576]', 'auto'],
      ['add', '[16777216]', 'auto'],
    ]);
    for (const r of rows) {
      expect(Number.isFinite(r.ms) && r.ms > 0, `${r.shape}: median ${r.ms} ms`).toBe(true);
      expect(Number.isFinite(r.minMs) && r.minMs > 0 && r.minMs <= r.ms, `${r.shape}: min ${r.minMs} ms`).toBe(true);
      expect(r.repeats).toBe(3);
      expect(r.gbps).toBeGreaterThan(0);
      expect(r.adapter).toMatch(/\[swiftshader\]$/);
    }
  }, 90_000);

  it('a filter that matches no case fails with the runner\'s message', async () => {
    const { code, stdout, stderr } = await bench(['--browser', 'no_such_kernel']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('bench: no case matches no_such_kernel (kernels: ');
    expect(stderr).toMatch(/kernels: .*\badd\b/);
    expect(stdout).not.toContain('adapter:');
  }, 90_000);

  it('an unknown option fails before Chromium starts, naming the options', async () => {
    const { code, stderr } = await bench(['--browser', '--no-such-option']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('bench: unknown option --no-such-option (use --json, --wall, --repeats N, --budget-ms N; pnpm bench also takes --browser)');
  }, 30_000);
});
