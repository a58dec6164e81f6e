export * from './dynamic-batcher';
