export * from './dataset-manifest';
export * from './dataset-files';
export * from './file-dataset';
export * from './log-dataset';
export * from './split';
