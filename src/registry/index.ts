export * from './manifest';
export * from './model-registry';
export * from './registry.module';
