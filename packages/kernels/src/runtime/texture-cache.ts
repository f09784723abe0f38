// rgba32float 2-D array textures kept between calls, each with its one view (so a recurring
// dispatch binds the same view, and its cached bind group), keyed by role and size, least recently
// used evicted past a byte budget. Evicted textures are retired (destroyed after the next submit),
// not destroyed: one may have been handed out a moment ago for the dispatch being set up (a conv
// fetches its source and weights textures, a matmul both operands, then dispatches).
import { rt } from './current.ts';

interface Entry {
  texture: GPUTexture;
  view: GPUTextureView;
  bytes: number;
}

export class TextureCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    /** Names the textures in errors: `${label}-${key}`. */
    private readonly label: string,
    private readonly usage: number,
    private readonly budgetBytes: number,
  ) {}

  /** The view of the texture for `key` of exactly these dimensions, created on first use. */
  view(key: string, width: number, height: number, layers: number): GPUTextureView {
    const fullKey = `${key}:${width}x${height}x${layers}`;
    const hit = this.entries.get(fullKey);
    if (hit) {
      this.entries.delete(fullKey); // re-inserted: Map order is the recency order
      this.entries.set(fullKey, hit);
      return hit.view;
    }
    const bytes = width * height * layers * 16;
    for (const [oldKey, old] of this.entries) {
      if (this.bytes + bytes <= this.budgetBytes) break;
      this.entries.delete(oldKey);
      rt().retire(old.texture);
      this.bytes -= old.bytes;
    }
    const texture = rt().device.createTexture({ size: [width, height, layers], format: 'rgba32float', usage: this.usage, label: `${this.label}-${fullKey}` });
    const entry = { texture, view: texture.createView({ dimension: '2d-array' }), bytes };
    rt().registerView(entry.view, texture);
    this.entries.set(fullKey, entry);
    this.bytes += bytes;
    return entry.view;
  }

  /** Destroys every texture (after submitting the work that may still use them). */
  release(): void {
    if (this.entries.size === 0) return;
    rt().flush(); // destroying a texture referenced by unsubmitted commands would fail the submit
    for (const entry of this.entries.values()) rt().destroyTexture(entry.texture);
    this.entries.clear();
    this.bytes = 0;
  }
}
