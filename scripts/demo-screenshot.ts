// The README's picture of the demo: `tsx scripts/demo-screenshot.ts OUT.png [TRAIN_STEPS] [BATCH]`
// opens `pnpm demo` in headless Chromium (scripts/chromium.ts), trains a shifted prior in the page's
// training panel, generates four images with it (25 DDIM steps, seed 0) and saves a screenshot of
// the whole page.
import { serveDemo } from '../demo/server.ts';
import { browse } from './chromium.ts';

const [out, trainSteps = '100', batch = '16'] = process.argv.slice(2);
if (!out) {
  console.error('usage: tsx scripts/demo-screenshot.ts OUT.png [TRAIN_STEPS] [BATCH]');
  process.exit(2);
}
const demo = await browse(await serveDemo(0), { width: 1000, height: 1100 });
const { page } = demo;
const statusOf = (id: string) => `document.getElementById('${id}').textContent`;
try {
  await page.waitForFunction(`${statusOf('status')} === 'ready' || /unavailable/.test(${statusOf('adapter')})`, null, { timeout: 120_000 });
  await page.fill('#train-steps', trainSteps);
  await page.fill('#train-batch', batch);
  await page.click('#train');
  await page.waitForFunction(`/^(trained|training failed|could not)/.test(${statusOf('train-status')})`, null, { timeout: 0 });
  await page.selectOption('#arm', 'trained');
  await page.fill('#count', '4');
  await page.fill('#steps', '25');
  await page.click('#generate');
  await page.waitForFunction(`/^(done|failed)/.test(${statusOf('status')})`, null, { timeout: 0 });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${out}: ${await page.evaluate(statusOf('train-status'))}; ${await page.evaluate(statusOf('status'))}`);
  if (demo.errors.length) throw new Error(`the page reported: ${demo.errors.join('; ')}`);
} finally {
  await demo.close();
}
process.exit(0);
