export * from './external-command';
export * from './job-files';
export * from './job-record';
export * from './job-spec';
export * from './onnx-scoring';
export * from './prepare-data';
export * from './training-job-service';
