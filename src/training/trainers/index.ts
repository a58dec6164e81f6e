export * from './adam';
export * from './dataset';
export * from './dense-model';
export * from './dense-trainer';
export * from './dense-trainers';
export * from './matrix';
export * from './random';
export * from './standardization';
