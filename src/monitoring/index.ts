export * from './stats';
export * from './reference-profile';
export * from './offline-drift';
