// The operand loaders of the GEMM generator (./kernel.ts): how one bk-deep slice of A or B gets
// from global memory into registers and from there into the k-major workgroup tile.
import type { OperandContext, OperandLoader, OperandStaging } from './kernel.ts';

/** Where element (outer, inner) of the slice is in the operand's binding, and whether it exists. */
export type MatrixElement = (outer: string, inner: string) => { index: string; inBounds: string };

/**
 * A stored matrix read along its contiguous dimension (`inner`), as vec4s when `vec4` (the index is
 * then divided by 4): the matmul's operands, row-major or transposed. The contiguous dimension is
 * the tile's span (m or n) when `contiguousAlongSpan`, else k. Registers `aReg0`… for binding `A`.
 */
export function matrixOperand(binding: 'A' | 'B', vec4: boolean, contiguousAlongSpan: boolean, element: MatrixElement): OperandLoader {
  return {
    // The register block's vec4 reads along k need whole vec4s per slice.
    fits: ({ tile }) => tile.bk % 4 === 0,
    stage: (ctx) => stageMatrix(ctx, binding, vec4, contiguousAlongSpan, element),
  };
}

function stageMatrix(ctx: OperandContext, binding: string, vec: boolean, alongSpan: boolean, element: MatrixElement): OperandStaging {
  const { tile, threads, span, slot } = ctx;
  const [outer, inner] = alongSpan ? [tile.bk, span] : [span, tile.bk];
  // Tile element (k, s) is component s % 4 of vec4 (k·span + s) / 4.
  const at = (k: string, s: string) => slot(`((${k}) * ${span}u + (${s})) / 4u`);
  const dest = (o: string, i: string) => (alongSpan ? `${at(o, i)}[((${i})) % 4u]` : `${at(i, o)}[((${o})) % 4u]`);
  const width = vec ? 4 : 1;
  const perRow = inner / width;
  const count = outer * perRow;
  const perThread = Math.ceil(count / threads);
  const staging: OperandStaging = { regs: [], load: [], store: [] };
  for (let s = 0; s < perThread; s++) {
    const v = `${binding.toLowerCase()}Reg${s}`;
    const guardAll = (s + 1) * threads > count ? `if (lid + ${s * threads}u < ${count}u) ` : '';
    const position = `  let e = lid + ${s * threads}u; let o = e / ${perRow}u; let i = (e % ${perRow}u) * ${width}u;`;
    const g = element('o', 'i');
    staging.regs.push(`var ${v}: ${vec ? 'vec4<f32>' : 'f32'};`);
    staging.load.push(`${guardAll}{`, position, `  ${v} = ${vec ? 'vec4<f32>(0.0)' : '0.0'};`);
    staging.load.push(`  if (${g.inBounds}) { ${v} = ${binding}[${vec ? `(${g.index}) / 4u` : g.index}]; }`, '}');
    staging.store.push(`${guardAll}{`, position);
    // Contiguous along the span in both memories: one vec4 store.
    if (vec && alongSpan) staging.store.push(`  ${at('o', 'i')} = ${v};`);
    else for (let q = 0; q < width; q++) staging.store.push(`  ${dest('o', `i + ${q}u`)} = ${vec ? `${v}[${q}]` : v};`);
    staging.store.push('}');
  }
  return staging;
}

/**
 * An operand gathered one element at a time (conv2d's implicit im2col): `element(s, k)` is an f32
 * expression of span index `s` (m for A, n for B) and absolute reduction index `k`, read only when
 * both are in range (`s < spanLimit`, slice-relative k < `kLimit`; 0 otherwise). `k` is offset by
 * `kbase`, the kernel's split-K chunk start. The thread index runs fastest along k or along the span,
 * whichever makes consecutive threads read consecutive addresses. Registers `ra0`… for A, `rb0`… for B.
 */
export function gatheredOperand(
  operand: 'a' | 'b',
  fastAlong: 'k' | 'span',
  limits: { span: number; k: number },
  element: (s: string, k: string) => string,
): OperandLoader {
  const fastExtent = (ctx: OperandContext) => (fastAlong === 'k' ? ctx.tile.bk : ctx.span);
  return {
    fits: (ctx) => ctx.threads % fastExtent(ctx) === 0 && (ctx.span * ctx.tile.bk) % ctx.threads === 0,
    stage: (ctx) => {
      const { tile, threads, span, slot } = ctx;
      const fast = fastExtent(ctx);
      const s = operand === 'a' ? 'm' : 'n';
      const local = `${s}${s}`; // within the tile
      const staging: OperandStaging = { regs: [], load: [], store: [] };
      for (let j = 0; j < (span * tile.bk) / threads; j++) {
        const v = `r${operand}${j}`;
        // The position along k (`kk`, within the slice) and along the span (`s`, or `ss` within the tile).
        const slow = `lid / ${fast}u + ${(j * threads) / fast}u`;
        const [kPos, sPos] = fastAlong === 'k' ? [`lid % ${fast}u`, slow] : [slow, `lid % ${fast}u`];
        const kLet = `let kk = ${kPos};`;
        const inOrder = (kPart: string, sPart: string) => (fastAlong === 'k' ? `${kPart} ${sPart}` : `${sPart} ${kPart}`);
        staging.regs.push(`var ${v} = 0.0;`);
        staging.load.push(`{ ${inOrder(kLet, `let ${s} = ${s}0 + ${sPos};`)} let k = kbase + k0 + kk;`);
        staging.load.push(`  ${v} = select(0.0, ${element(s, 'k')}, ${s} < ${limits.span}u && k0 + kk < ${limits.k}u); }`);
        staging.store.push(`{ ${inOrder(kLet, `let ${local} = ${sPos};`)}`);
        staging.store.push(`  ${slot(`kk * ${span / 4}u + ${local} / 4u`)}[${local} % 4u] = ${v}; }`);
      }
      return staging;
    },
  };
}
