// `pnpm demo [--port N]`: serves the demo page on localhost (default port 8080) and prints its URL.
// Open it in a browser with WebGPU (Chrome or Edge; Chromium on Linux needs --enable-unsafe-webgpu).
import { serveDemo } from './server.ts';

const at = process.argv.indexOf('--port');
const port = at >= 0 ? Number(process.argv[at + 1]) : 8080;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`demo: --port takes a port number (0-65535), got ${JSON.stringify(process.argv[at + 1] ?? '')}`);
  process.exit(2);
}
const server = await serveDemo(port);
console.log(`demo: ${server.url} (Ctrl-C stops it)`);
