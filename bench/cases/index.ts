// Every benchmark case file, one line each: `export { <its BenchCase[] export> as <name> } from './<file>.ts';`
// Static re-exports, so that the single-file bundles of bench/gpu.ts and bench/page.ts contain them all.
// The cases also run in a web page (`pnpm bench --browser`): they import '@sd/models/page', not
// '@sd/models', and nothing Node-only (test/browser/bundle.test.ts checks the page's bundle).
export { cases as matmul } from './matmul.ts';
export { cases as elementwise } from './elementwise.ts';
export { cases as clip } from './clip.ts';
export { cases as conv2d } from './conv2d.ts';
export { cases as groupnorm } from './groupnorm.ts';
export { cases as autograd } from './autograd.ts';
export { cases as reductions } from './reductions.ts';
export { cases as prior } from './prior.ts';
export { cases as attention } from './attention.ts';
export { cases as decoder } from './decoder.ts';
export { cases as dispatch } from './dispatch.ts';
