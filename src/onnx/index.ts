export * from './graph-builder';
export * from './mlp-graph';
