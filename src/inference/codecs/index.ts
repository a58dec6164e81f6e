export * from './kserve-v2';
export * from './kserve-v2-binary';
export * from './v1-json';
export * from './tensor-decoding';
