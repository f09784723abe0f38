// The line plots (runs' loss.png, the evaluation's FID-vs-similarity plot, the demo's live loss
// plot): each series drawn in its colour through its points, axes, axis titles and a legend swatch
// per series; a log axis drops points it cannot show; the PNG holds exactly the drawn pixels.
import { describe, expect, it } from 'vitest';
import { decodeRgb, drawPlot, renderPlot, type Series } from '@sd/models';

const RED: [number, number, number] = [200, 40, 40];
const BLUE: [number, number, number] = [40, 80, 200];
const pixel = (p: { width: number; data: Uint8Array }, x: number, y: number) => Array.from(p.data.subarray((y * p.width + x) * 3, (y * p.width + x) * 3 + 3));

describe('drawPlot', () => {
  // The plot area (see plot.ts): x from 70 to width − 20, y from height − 50 (bottom) to 20 (top).
  const [width, height] = [400, 300];
  const [left, right, top, bottom] = [70, width - 20, 20, height - 50];

  it('draws each series through its points, the axes, the titles and a legend swatch per series', () => {
    const series: Series[] = [
      { label: 'shifted', color: RED, points: [{ x: 0, y: 1 }, { x: 10, y: 3 }] },
      { label: 'baseline', color: BLUE, points: [{ x: 0, y: 1.5 }, { x: 10, y: 1.5 }] },
    ];
    const p = drawPlot(series, { xTitle: 'step', yTitle: 'loss', logY: false, width, height });
    expect([p.width, p.height, p.data.length]).toEqual([width, height, width * height * 3]);
    // The red line runs from (0, 1) at the bottom left to (10, 3) at the top right; the blue one is
    // the horizontal line a quarter of the way up (y = 1.5 of 1..3). Dots mark the points of short series.
    expect(pixel(p, left, bottom)).toEqual(RED);
    expect(pixel(p, right, top)).toEqual(RED);
    expect(pixel(p, Math.round((left + right) / 2), Math.round((top + bottom) / 2))).toEqual(RED);
    expect(pixel(p, left + 100, Math.round(bottom - (bottom - top) / 4))).toEqual(BLUE);
    // The axes (black), away from the series.
    expect(pixel(p, left, top + 40)).toEqual([0, 0, 0]);
    expect(pixel(p, right - 40, bottom)).toEqual([0, 0, 0]);
    // Text (the titles, ticks and labels) in dark grey, below the x axis and above the plot area.
    const textColour = [40, 40, 40];
    const textRows = (y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = 0; x < width; x++) if (pixel(p, x, y).join() === textColour.join()) n++;
      return n;
    };
    expect(textRows(bottom + 26, bottom + 40), 'the x title').toBeGreaterThan(10);
    expect(textRows(0, top - 2), 'the y title').toBeGreaterThan(10);
    // Each series' legend swatch: 24 × 2 pixels of its colour, top right, left of the labels (8 px
    // per character of the longest, 'baseline'), one row of 16 px per series.
    const swatchX = right - 8 * 'baseline'.length - 40;
    for (const [k, colour] of [RED, BLUE].entries()) {
      for (let x = swatchX; x < swatchX + 24; x++) for (const dy of [0, 1]) expect(pixel(p, x, top + 8 + 16 * k + dy)).toEqual(colour);
    }
  });

  it('a log axis drops points at or below zero; no drawable point leaves a blank white image', () => {
    const logged = drawPlot([{ label: 'a', color: RED, points: [{ x: 0, y: 0 }, { x: 1, y: 0.1 }, { x: 2, y: 0.01 }] }], { xTitle: 'x', yTitle: 'y', logY: true, width, height });
    // Of the three points only two are shown: the first at the top left, the last at the bottom right.
    expect(pixel(logged, left, top)).toEqual(RED);
    expect(pixel(logged, right, bottom)).toEqual(RED);
    const blank = drawPlot([{ label: 'a', color: RED, points: [{ x: 0, y: -1 }, { x: 1, y: Number.NaN }] }], { xTitle: 'x', yTitle: 'y', logY: true, width, height });
    expect(blank.data.every((v) => v === 255)).toBe(true);
  });

  it('renderPlot is the PNG of exactly those pixels', () => {
    const series: Series[] = [{ label: 'loss', color: RED, points: [{ x: 1, y: 0.5 }, { x: 2, y: 0.2 }, { x: 3, y: 0.1 }] }];
    const options = { xTitle: 'training step', yTitle: 'loss (log scale)', logY: true, width, height };
    const png = decodeRgb(renderPlot(series, options), 'plot.png');
    const drawn = drawPlot(series, options);
    expect([png.width, png.height]).toEqual([drawn.width, drawn.height]);
    expect(Buffer.from(png.data).equals(Buffer.from(drawn.data))).toBe(true);
  });
});
