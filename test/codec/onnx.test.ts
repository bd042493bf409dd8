// The ONNX writer's models must load and run in onnxruntime-web (its wasm EP, the one that runs in Node) and
// give the float64 reference answer; the bytes must decode back to what was written.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, IR_VERSION, type Graph } from '../../src/codec/onnx';
import { expectClose, f32, rand } from '../tensor/harness';

// One thread: the wasm EP's worker pool is not needed for tiny models and keeps the test process simple.
ort.env.wasm.numThreads = 1;

const M = 3;
const K = 5;
const N = 4;

/** Y = X·W + b with W and b as initializers; X's batch dimension is symbolic. */
function matmulAddGraph(w: Float64Array, b: Float64Array): Graph {
  return {
    name: 'matmul_add',
    inputs: [{ name: 'X', shape: ['rows', K] }],
    outputs: [{ name: 'Y', shape: ['rows', N] }],
    initializers: [
      { name: 'W', shape: [K, N], data: w },
      { name: 'B', shape: [N], data: b },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['X', 'W'], outputs: ['XW'] },
      { op: 'Add', inputs: ['XW', 'B'], outputs: ['Y'] },
    ],
  };
}

/** float64 reference of X·W + b on float32-rounded inputs. */
function reference(x: Float64Array, w: Float64Array, b: Float64Array): Float64Array {
  const y = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = b[j];
      for (let k = 0; k < K; k++) s += x[i * K + k] * w[k * N + j];
      y[i * N + j] = s;
    }
  }
  return y;
}

describe('onnx writer', () => {
  const x = f32(rand(M * K, 1));
  const w = f32(rand(K * N, 2));
  const b = f32(rand(N, 3));

  it('writes a MatMul+Add model that onnxruntime-web (wasm) runs to the float64 answer', async () => {
    const bytes = encodeModel(matmulAddGraph(w, b));
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    try {
      expect(session.inputNames).toEqual(['X']);
      expect(session.outputNames).toEqual(['Y']);
      const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from(x), [M, K]) });
      expect(out.Y.dims).toEqual([M, N]);
      expectClose(out.Y.data as Float32Array, reference(x, w, b), { atol: 1e-6, rtol: 1e-6 }, 'MatMul+Add');
    } finally {
      await session.release();
    }
  });

  it('round-trips through the schema with opset 17, shapes and float initializers', () => {
    const model = decodeModel(encodeModel(matmulAddGraph(w, b))) as {
      irVersion: number;
      opsetImport: Array<{ domain?: string; version: number }>;
      graph: {
        node: Array<{ opType: string }>;
        initializer: Array<{ name: string; dims: number[]; dataType: number; rawData: number[] }>;
        input: Array<{ type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue?: number; dimParam?: string }> } } } }>;
      };
    };
    expect(model.irVersion).toBe(IR_VERSION);
    expect(model.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(model.graph.node.map((n) => n.opType)).toEqual(['MatMul', 'Add']);
    const W = model.graph.initializer[0];
    expect([W.name, W.dims, W.dataType]).toEqual(['W', [K, N], 1]);
    expect(Array.from(new Float32Array(Uint8Array.from(W.rawData).buffer))).toEqual(Array.from(Float32Array.from(w)));
    expect(model.graph.input[0].type.tensorType.shape.dim).toEqual([{ dimParam: 'rows' }, { dimValue: K }]);
  });

  it('rejects an initializer whose data does not fill its shape', () => {
    const bad = matmulAddGraph(w, b);
    bad.initializers![1].shape = [N + 1];
    expect(() => encodeModel(bad)).toThrow(/initializer B has 4 values for shape \[5\]/);
  });
});
