// Float64 reference of cross-entropy over logits rows [rows, cols] against class targets, with
// PyTorch's reductions and ignoreIndex: the loss, and its gradient w.r.t. the logits given the upstream one.
import { refLogSumExpRows } from './reduce.ts';

export type RefReduction = 'mean' | 'sum' | 'none';

/** The loss: per row for 'none', else one value (a mean over no rows is NaN). */
export function refCrossEntropy(logits: ArrayLike<number>, cols: number, targets: ArrayLike<number>, reduction: RefReduction = 'mean', ignoreIndex = -100): Float64Array {
  return refCrossEntropyWithGrad(logits, cols, targets, reduction, ignoreIndex).loss;
}

/** The loss and d(loss)/d(logits) for upstream gradient `up` (one per row for 'none', else one value). */
export function refCrossEntropyWithGrad(
  logits: ArrayLike<number>,
  cols: number,
  targets: ArrayLike<number>,
  reduction: RefReduction = 'mean',
  ignoreIndex = -100,
  up: ArrayLike<number> = [1],
): { loss: Float64Array; grad: Float64Array } {
  const rows = targets.length;
  const lse = refLogSumExpRows(logits, cols);
  const perRow = new Float64Array(rows);
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === ignoreIndex) continue;
    perRow[r] = lse[r] - logits[r * cols + t];
    total += perRow[r];
    count++;
  }
  const loss = reduction === 'none' ? perRow : Float64Array.of(reduction === 'sum' ? total : total / count);
  const grad = new Float64Array(logits.length);
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === ignoreIndex) continue;
    const g = reduction === 'none' ? up[r] : reduction === 'sum' ? up[0] : up[0] / count;
    for (let c = 0; c < cols; c++) grad[r * cols + c] = g * (Math.exp(logits[r * cols + c] - lse[r]) - (c === t ? 1 : 0));
  }
  return { loss, grad };
}
