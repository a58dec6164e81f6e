export * from './input-sampling';
export * from './prediction-log-metrics';
export * from './prediction-record';
export * from './prediction-writer';
export * from './predictions.module';
export * from './spool';
export * from './feedback';
