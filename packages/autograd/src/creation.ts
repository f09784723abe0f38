// Tensor creation: constants, ranges, host data and seeded random tensors.
import { DeviceArray, rt, sizeOf, type DType, type Shape } from '@sd/kernels';
import { Tensor } from './tensor.ts';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

function bitsOf(value: number, dtype: DType): number {
  if (dtype === 'f32') return new Uint32Array(new Float32Array([value]).buffer)[0];
  return value >>> 0;
}

export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  const dtype = options.dtype ?? 'f32';
  const array = DeviceArray.empty(shape, dtype, 'full');
  if (array.size > 0) rt().fillWords(array.buffer, array.size, bitsOf(value, dtype));
  return new Tensor(array, options.requiresGrad ?? false);
}

export const zeros = (shape: Shape, options?: CreateOptions): Tensor => full(shape, 0, options);
export const ones = (shape: Shape, options?: CreateOptions): Tensor => full(shape, 1, options);

export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, { dtype: t.dtype });
}

/** A tensor from host values (nested arrays are not accepted: pass flat data and a shape). */
export function tensor(data: ArrayLike<number>, shape?: Shape, options: CreateOptions = {}): Tensor {
  const s = shape ?? [data.length];
  const t = new Tensor(DeviceArray.from(data, s, options.dtype ?? 'f32'));
  if (options.requiresGrad) t.setRequiresGrad(true);
  return t;
}

export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return tensor([value], [], options);
}

/** [start, start+step, …) below `end`, like NumPy's arange. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  return tensor(values, [n], options);
}

export function fromArray(data: ArrayLike<number>, shape: Shape, options: CreateOptions = {}): Tensor {
  if (data.length !== sizeOf(shape)) throw new Error(`fromArray: ${data.length} values cannot fill shape [${shape.join(', ')}]`);
  return tensor(data, shape, options);
}
