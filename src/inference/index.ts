export * from './batching';
export * from './codecs';
export * from './inference.module';
export * from './inference.service';
export * from './loaded-model';
export * from './model-runtime';
export * from './prediction-sink';
