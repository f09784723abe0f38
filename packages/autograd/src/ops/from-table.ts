// Turns a kernel table (UNARY, BINARY) into autograd functions, one per row, so an op added to the
// table needs no second listing here. Kernel tables name ops in snake_case (quick_gelu), the Tensor
// API in PyTorch's camelCase (quickGelu); the conversion is done on the type too, so
// `unaryFunctions.quickGelu` type-checks.

export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

export function camelCase<S extends string>(s: S): CamelCase<S> {
  return s.replace(/_(.)/g, (_, c: string) => c.toUpperCase()) as CamelCase<S>;
}

/** `{ [camelCase(op)]: make(op) }` for every op (row name) given. */
export function functionsFromTable<Op extends string, F>(ops: readonly Op[], make: (op: Op) => F): { [K in Op as CamelCase<K>]: F } {
  return Object.fromEntries(ops.map((op) => [camelCase(op), make(op)])) as { [K in Op as CamelCase<K>]: F };
}

/**
 * Compile-time check that a table's functions are all named exports of their module (ES modules
 * need static export names, so those are a list): `exportedByName<Exclude<keyof typeof fns, keyof
 * typeof import('./this.ts')>>()` fails the typecheck naming the missing ones.
 */
export function exportedByName<Missing extends never>(): void {}
