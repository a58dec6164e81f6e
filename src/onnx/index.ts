export * from './graph-builder';
export * from './mlp-graph';
export * from './tensor';
export * from './onnx-runtime';
