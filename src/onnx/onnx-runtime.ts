import { Injectable } from '@nestjs/common';
import * as ort from 'onnxruntime-node';
import { datatypeOfOrt, ORT_TYPE, Tensor, TensorSpec } from './tensor';

/**
 * The one place that talks to onnxruntime-node. Everything above works with `Tensor` and
 * `TensorSpec`, so the runtime can be swapped (or wrapped) without touching the data plane.
 */
export interface ModelSession {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  run(feeds: Tensor[], outputNames?: string[]): Promise<Map<string, Tensor>>;
  release(): Promise<void>;
}

export class UnloadableModelError extends Error {}

function toSpec(meta: ort.InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) {
    throw new UnloadableModelError(
      `'${meta.name}' is not a tensor; only tensor inputs and outputs are supported`,
    );
  }
  const datatype = datatypeOfOrt(meta.type);
  if (!datatype)
    throw new UnloadableModelError(`'${meta.name}' has unsupported element type ${meta.type}`);
  return {
    name: meta.name,
    datatype,
    shape: meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
  };
}

class OrtModelSession implements ModelSession {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];

  constructor(private readonly session: ort.InferenceSession) {
    this.inputs = session.inputMetadata.map(toSpec);
    this.outputs = session.outputMetadata.map(toSpec);
  }

  async run(feeds: Tensor[], outputNames?: string[]): Promise<Map<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const t of feeds) {
      // BOOL travels as Uint8Array, which onnxruntime-node accepts for 'bool'.
      ortFeeds[t.name] = new ort.Tensor(ORT_TYPE[t.datatype], t.data, t.shape);
    }
    const results = outputNames
      ? await this.session.run(ortFeeds, outputNames)
      : await this.session.run(ortFeeds);
    const out = new Map<string, Tensor>();
    for (const spec of this.outputs) {
      const r = results[spec.name];
      if (!r) continue;
      out.set(spec.name, {
        name: spec.name,
        datatype: spec.datatype,
        shape: [...r.dims],
        data: r.data,
      });
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export interface SessionOptions {
  /** Threads inside one operator; small values leave cores for HTTP parsing. */
  intraOpThreads?: number;
}

@Injectable()
export class OnnxRuntime {
  async load(bytes: Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new UnloadableModelError(`not a loadable ONNX model: ${(err as Error).message}`);
    }
    try {
      return new OrtModelSession(session);
    } catch (err) {
      await session.release();
      throw err;
    }
  }
}
