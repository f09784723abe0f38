export { Module, describeLoad, type LoadResult, type HostTensor } from './module.ts';
export * from './layers.ts';
export * from './containers.ts';
export * from './blocks.ts';
export * from './pooling.ts';
export * as init from './init.ts';
