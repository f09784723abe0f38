// Progress bars on stderr: training (loss, it/s, ETA) and counted work (items/s, ETA); plain lines when stderr is not a terminal.
import cliProgress from 'cli-progress';

export interface Progress {
  update(step: number, values: { loss: number; itPerSec: number; lr?: number }): void;
  stop(): void;
}

export function progressBar(label: string, total: number, start = 0): Progress {
  if (!process.stderr.isTTY) {
    let lastPrint = 0;
    return {
      update(step, v) {
        const now = Date.now();
        if (now - lastPrint < 5000 && step < total) return;
        lastPrint = now;
        const eta = v.itPerSec > 0 ? Math.round((total - step) / v.itPerSec) : 0;
        process.stderr.write(`${label} ${step}/${total} loss ${v.loss.toFixed(5)} ${v.itPerSec.toFixed(2)} it/s ETA ${eta}s\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | loss {loss} | {speed} it/s | ETA {eta_formatted}`, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, start, { loss: '-', speed: '-' });
  return {
    update(step, v) {
      bar.update(step, { loss: v.loss.toFixed(5), speed: v.itPerSec.toFixed(2) });
    },
    stop() {
      bar.stop();
    },
  };
}

/** A progress bar for work counted in items (images decoded): items/s and ETA; plain lines when stderr is not a terminal. */
export function countBar(label: string, total: number, unit = 'images'): { update(done: number): void; stop(): void } {
  const started = Date.now();
  const rate = (done: number) => done / Math.max(1e-3, (Date.now() - started) / 1000);
  if (!process.stderr.isTTY) {
    let lastPrint = 0;
    return {
      update(done) {
        if (Date.now() - lastPrint < 5000 && done < total) return;
        lastPrint = Date.now();
        process.stderr.write(`${label} ${done}/${total} ${unit} ${rate(done).toFixed(2)}/s ETA ${Math.round((total - done) / Math.max(rate(done), 1e-9))}s\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} ${unit} | {speed}/s | ETA {eta_formatted}`, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { speed: '-' });
  return {
    update(done) {
      bar.update(done, { speed: rate(done).toFixed(2) });
    },
    stop() {
      bar.stop();
    },
  };
}
