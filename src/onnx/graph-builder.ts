import { onnx } from 'onnx-proto';

/**
 * A small ONNX graph builder on top of onnx-proto's generated protobuf code.
 *
 * It is shared by the training module's exporters and by the test fixtures, so a model the tests
 * serve is built exactly the way a trained model is exported. Pure: no I/O, returns bytes.
 */

export type OnnxElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'uint8';

const ELEMENT_TYPE: Record<OnnxElementType, onnx.TensorProto.DataType> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A dimension is a fixed size or a symbolic name (a dynamic dimension such as the batch). */
export type OnnxDim = number | string;

export type OnnxAttribute = number | string | number[] | { floats: number[] } | { ints: number[] };

export interface InitializerData {
  type: OnnxElementType;
  dims: number[];
  values: ArrayLike<number> | BigInt64Array;
}

export class OnnxGraphBuilder {
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly metadata: onnx.IStringStringEntryProto[] = [];
  private nodeCounter = 0;

  constructor(
    private readonly graphName: string,
    private readonly opset = 13,
  ) {}

  input(name: string, type: OnnxElementType, dims: OnnxDim[]): this {
    this.inputs.push(valueInfo(name, type, dims));
    return this;
  }

  output(name: string, type: OnnxElementType, dims: OnnxDim[]): this {
    this.outputs.push(valueInfo(name, type, dims));
    return this;
  }

  initializer(name: string, data: InitializerData): this {
    const tensor: onnx.ITensorProto = { name, dims: data.dims, dataType: ELEMENT_TYPE[data.type] };
    switch (data.type) {
      case 'float32':
        tensor.floatData = Array.from(data.values as ArrayLike<number>);
        break;
      case 'float64':
        tensor.doubleData = Array.from(data.values as ArrayLike<number>);
        break;
      case 'int64':
        tensor.int64Data = Array.from(data.values as ArrayLike<number | bigint>, (v) => Number(v));
        break;
      default:
        tensor.int32Data = Array.from(data.values as ArrayLike<number>);
    }
    this.initializers.push(tensor);
    return this;
  }

  node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attributes: Record<string, OnnxAttribute> = {},
  ): this {
    this.nodes.push({
      name: `${opType.toLowerCase()}_${this.nodeCounter++}`,
      opType,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return this;
  }

  /** Key/value pairs stored in the model's `metadata_props`. */
  meta(key: string, value: string): this {
    this.metadata.push({ key, value });
    return this;
  }

  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 7,
      producerName: 'argus',
      producerVersion: '1',
      opsetImport: [{ domain: '', version: this.opset }],
      metadataProps: this.metadata,
      graph: {
        name: this.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: OnnxElementType, dims: OnnxDim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[type],
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, value: OnnxAttribute): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') {
    return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  }
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, type: T.INT, i: value }
      : { name, type: T.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    return { name, type: T.INTS, ints: value };
  }
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.INTS, ints: value.ints };
}
