import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import NodeEnvironment from 'jest-environment-node';

/**
 * Jest's node environment runs each test file in its own V8 context, so typed arrays made by
 * native code (onnxruntime-node's output tensors) come from the outer context while
 * onnxruntime-common checks `data instanceof Float32Array` against the sandbox's constructor and
 * refuses them. Real ONNX Runtime in tests needs one set of typed-array constructors: this
 * environment gives the sandbox the outer context's (jest already does so for Uint8Array and
 * ArrayBuffer). The default environment of every test file (jest.config.js).
 */
const SHARED = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
] as const;

export default class OnnxRuntimeEnvironment extends NodeEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    const sandbox = this.global as unknown as Record<string, unknown>;
    const outer = globalThis as unknown as Record<string, unknown>;
    for (const name of SHARED) sandbox[name] = outer[name];
  }
}
