export * from './kserve-v2';
export * from './v1-json';
export * from './tensor-decoding';
