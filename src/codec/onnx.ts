// A minimal ONNX model writer: enough of ModelProto to express small graphs (one MatMul, MatMul+Add, one
// MultiHeadAttention) for onnxruntime-web, so benchmarks and tests can compare our kernels with ORT's.
//
// Why a hand-written schema: the full onnx.proto is large and we only write models. protobufjs (the library
// onnxruntime-web itself depends on) encodes from a reflected schema, so this file declares only the messages
// and fields we emit, with the field numbers of onnx/onnx.proto (proto2). A reader that meets this output sees
// a regular ONNX model; fields we never set are simply absent.
import protobuf from 'protobufjs';

/** IR version 8 is the one ONNX 1.12 paired with opset 17; every ORT release since 1.12 reads it. */
export const IR_VERSION = 8;
export const DEFAULT_OPSET = 17;

/** TensorProto.DataType values we use. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
type DataTypeName = 'float32' | 'int32' | 'int64';
const DATA_TYPE: Record<DataTypeName, number> = { float32: DataType.FLOAT, int32: DataType.INT32, int64: DataType.INT64 };

/** AttributeProto.AttributeType values we use. */
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

const F = (id: number, type: string, rule?: 'repeated', options?: Record<string, unknown>) => ({ id, type, rule, options });

// Field numbers copied from onnx/onnx.proto. Names are the proto names in camelCase (protobufjs's JS
// convention; a JSON schema is not converted as a .proto file would be); names never reach the wire.
const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: F(1, 'int64'),
            producerName: F(2, 'string'),
            producerVersion: F(3, 'string'),
            domain: F(4, 'string'),
            modelVersion: F(5, 'int64'),
            docString: F(6, 'string'),
            graph: F(7, 'GraphProto'),
            opsetImport: F(8, 'OperatorSetIdProto', 'repeated'),
          },
        },
        OperatorSetIdProto: { fields: { domain: F(1, 'string'), version: F(2, 'int64') } },
        GraphProto: {
          fields: {
            node: F(1, 'NodeProto', 'repeated'),
            name: F(2, 'string'),
            initializer: F(5, 'TensorProto', 'repeated'),
            docString: F(10, 'string'),
            input: F(11, 'ValueInfoProto', 'repeated'),
            output: F(12, 'ValueInfoProto', 'repeated'),
          },
        },
        NodeProto: {
          fields: {
            input: F(1, 'string', 'repeated'),
            output: F(2, 'string', 'repeated'),
            name: F(3, 'string'),
            opType: F(4, 'string'),
            attribute: F(5, 'AttributeProto', 'repeated'),
            docString: F(6, 'string'),
            domain: F(7, 'string'),
          },
        },
        AttributeProto: {
          fields: {
            name: F(1, 'string'),
            f: F(2, 'float'),
            i: F(3, 'int64'),
            s: F(4, 'bytes'),
            floats: F(7, 'float', 'repeated'),
            ints: F(8, 'int64', 'repeated'),
            type: F(20, 'int32'),
          },
        },
        TensorProto: {
          fields: {
            // onnx.proto declares dims without [packed=true]: write it unpacked, as the reference does.
            dims: F(1, 'int64', 'repeated', { packed: false }),
            dataType: F(2, 'int32'),
            name: F(8, 'string'),
            rawData: F(9, 'bytes'),
          },
        },
        ValueInfoProto: { fields: { name: F(1, 'string'), type: F(2, 'TypeProto') } },
        TypeProto: { fields: { tensorType: F(1, 'TypeProtoTensor') } },
        // TypeProto.Tensor in onnx.proto; a nested message's name does not appear on the wire.
        TypeProtoTensor: { fields: { elemType: F(1, 'int32'), shape: F(2, 'TensorShapeProto') } },
        TensorShapeProto: { fields: { dim: F(1, 'Dimension', 'repeated') } },
        // TensorShapeProto.Dimension: dim_value and dim_param form a oneof; we set at most one.
        Dimension: { fields: { dimValue: F(1, 'int64'), dimParam: F(2, 'string') } },
      },
    },
  },
};

let modelType: protobuf.Type | null = null;
function ModelProto(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(SCHEMA as protobuf.INamespace).lookupType('onnx.ModelProto');
  return modelType;
}

// ------------------------------------------------------------------ the model description we accept

/** A dimension: a fixed size, or a symbolic name (e.g. 'batch') for a size chosen at run time. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  shape: Dim[];
  dtype?: DataTypeName; // float32 by default
}

export interface Initializer {
  name: string;
  shape: number[];
  /** Stored as float32 raw data (little-endian), the layout onnxruntime reads without conversion. */
  data: Float32Array | ArrayLike<number>;
}

/** Attribute values are tagged: a JS number cannot say whether ONNX should see an int or a float. */
export type AttributeValue = { int: number } | { float: number } | { string: string } | { ints: number[] } | { floats: number[] };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** '' (the default ONNX domain) or e.g. 'com.microsoft' for contrib ops. */
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: Initializer[];
  /** ONNX opset (default 17); contrib domains used by nodes are imported at version 1 unless listed. */
  opset?: number;
  domains?: Record<string, number>;
  docString?: string;
}

// ------------------------------------------------------------------ building

function shapeOf(dims: Dim[]) {
  return { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: checkDim(d) } : { dimParam: d })) };
}

function checkDim(d: number): number {
  if (!Number.isInteger(d) || d < 0) throw new RangeError(`onnx: invalid dimension ${d}`);
  return d;
}

function valueInfo(v: ValueInfo) {
  return { name: v.name, type: { tensorType: { elemType: DATA_TYPE[v.dtype ?? 'float32'], shape: shapeOf(v.shape) } } };
}

function tensor(t: Initializer) {
  const count = t.shape.reduce((a, d) => a * checkDim(d), 1);
  if (t.data.length !== count) {
    throw new RangeError(`onnx: initializer ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  }
  const f32 = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  // raw_data must be little-endian; a DataView write is correct on any host byte order.
  const raw = new Uint8Array(count * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(i * 4, f32[i], true);
  return { name: t.name, dims: t.shape, dataType: DataType.FLOAT, rawData: raw };
}

function attribute(name: string, v: AttributeValue) {
  if ('int' in v) return { name, type: AttributeType.INT, i: v.int };
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  if ('string' in v) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v.string) };
  if ('ints' in v) return { name, type: AttributeType.INTS, ints: v.ints };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

/** The ModelProto as a plain object (protobufjs field names), before encoding. */
export function buildModel(g: Graph): Record<string, unknown> {
  const domains = new Map<string, number>([['', g.opset ?? DEFAULT_OPSET]]);
  for (const n of g.nodes) if (n.domain && !domains.has(n.domain)) domains.set(n.domain, 1);
  for (const [d, v] of Object.entries(g.domains ?? {})) domains.set(d, v);
  if ((domains.get('') ?? 0) < DEFAULT_OPSET) throw new RangeError(`onnx: opset ${domains.get('')} is below ${DEFAULT_OPSET}`);
  return {
    irVersion: IR_VERSION,
    producerName: 'soar-studio',
    producerVersion: '0.1',
    opsetImport: [...domains].map(([domain, version]) => ({ domain, version })),
    graph: {
      name: g.name,
      docString: g.docString,
      node: g.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (g.initializers ?? []).map(tensor),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  };
}

/** Serialises a graph to ONNX bytes, ready for `ort.InferenceSession.create(bytes)`. */
export function encodeModel(g: Graph): Uint8Array {
  const type = ModelProto();
  const message = type.fromObject(buildModel(g));
  return type.encode(message).finish();
}

/** Decodes bytes written by `encodeModel` back to a plain object (tests; int64 fields as numbers). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const type = ModelProto();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
