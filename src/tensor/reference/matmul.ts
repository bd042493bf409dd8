// float64 reference of the matmul family (the spec of shaders/matmul*.wgsl and ops/{matmul,linear}.ts):
// batched matmul with transposes, broadcast batch, bias, residual, alpha and activation, forward and backward;
// linear (PyTorch layout) and linear + several LoRA adapters, forward and backward. Plain loops, written from
// the formulas (not from the GPU decomposition), so that the tests compare two independent derivations.
import { activate, activateGrad, type Activation } from './activation';

export interface MatmulRefOptions {
  transA?: boolean;
  transB?: boolean;
  /** [N] */
  bias?: Float64Array | null;
  /** Same shape as the output, added before the activation. */
  residual?: Float64Array | null;
  /** Scales the product (not the bias or residual). */
  alpha?: number;
  activation?: Activation;
}

export interface MatmulRefDims {
  M: number;
  N: number;
  K: number;
  /** Number of output batches (product of the batch dims). */
  batch: number;
  aBatched: boolean;
  bBatched: boolean;
  outShape: number[];
}

/** Dimensions of a matmul; batch dims equal, or one side without batch dims (broadcast). */
export function matmulRefDims(aShape: readonly number[], bShape: readonly number[], transA = false, transB = false): MatmulRefDims {
  const ar = aShape.length;
  const br = bShape.length;
  const [M, K] = transA ? [aShape[ar - 1], aShape[ar - 2]] : [aShape[ar - 2], aShape[ar - 1]];
  const [Kb, N] = transB ? [bShape[br - 1], bShape[br - 2]] : [bShape[br - 2], bShape[br - 1]];
  if (K !== Kb) throw new Error(`matmulRef: inner dimensions ${K} and ${Kb} differ`);
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batchShape = aBatch.length ? aBatch : bBatch;
  const batch = batchShape.reduce((x, y) => x * y, 1);
  return { M, N, K, batch, aBatched: aBatch.length > 0, bBatched: bBatch.length > 0, outShape: [...batchShape, M, N] };
}

function accessors(d: MatmulRefDims, transA: boolean, transB: boolean) {
  const { M, N, K } = d;
  return {
    /** Flat index of opA[z][m, k] in a. */
    ia: (z: number, m: number, k: number) => (d.aBatched ? z * M * K : 0) + (transA ? k * M + m : m * K + k),
    /** Flat index of opB[z][k, n] in b. */
    ib: (z: number, k: number, n: number) => (d.bBatched ? z * K * N : 0) + (transB ? n * K + k : k * N + n),
  };
}

/** y = act(alpha·opA·opB + bias + residual); also returns the pre-activation. */
export function matmulRef(
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
  opts: MatmulRefOptions = {},
): { y: Float64Array; pre: Float64Array; shape: number[] } {
  const d = matmulRefDims(aShape, bShape, opts.transA, opts.transB);
  const { ia, ib } = accessors(d, !!opts.transA, !!opts.transB);
  const { M, N, K, batch } = d;
  const alpha = opts.alpha ?? 1;
  const act = opts.activation ?? 'none';
  const y = new Float64Array(batch * M * N);
  const pre = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ia(z, m, k)] * b[ib(z, k, n)];
        const i = (z * M + m) * N + n;
        let v = alpha * s;
        if (opts.bias) v += opts.bias[n];
        if (opts.residual) v += opts.residual[i];
        pre[i] = v;
        y[i] = activate(act, v);
      }
    }
  }
  return { y, pre, shape: d.outShape };
}

/** Gradients of Σ gy·y with respect to a, b, bias and residual (a broadcast operand's gradient sums over batch). */
export function matmulRefBackward(
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
  opts: MatmulRefOptions,
  gy: Float64Array,
): { da: Float64Array; db: Float64Array; dbias: Float64Array; dresidual: Float64Array } {
  const d = matmulRefDims(aShape, bShape, opts.transA, opts.transB);
  const { ia, ib } = accessors(d, !!opts.transA, !!opts.transB);
  const { M, N, K, batch } = d;
  const alpha = opts.alpha ?? 1;
  const act = opts.activation ?? 'none';
  const { pre } = matmulRef(a, aShape, b, bShape, opts);
  const da = new Float64Array(a.length);
  const db = new Float64Array(b.length);
  const dbias = new Float64Array(N);
  const dresidual = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const i = (z * M + m) * N + n;
        const gp = gy[i] * activateGrad(act, pre[i]);
        dbias[n] += gp;
        dresidual[i] = gp;
        for (let k = 0; k < K; k++) {
          da[ia(z, m, k)] += alpha * gp * b[ib(z, k, n)];
          db[ib(z, k, n)] += alpha * gp * a[ia(z, m, k)];
        }
      }
    }
  }
  return { da, db, dbias, dresidual };
}

// ------------------------------------------------------------------ linear and LoRA

export interface LoraRefAdapter {
  /** [rank, in] */
  A: Float64Array;
  /** [out, rank] */
  B: Float64Array;
  rank: number;
  scale: number;
}

interface LinearDims {
  rows: number;
  inF: number;
  outF: number;
  outShape: number[];
}

function linearDims(xShape: readonly number[], wShape: readonly number[]): LinearDims {
  const inF = xShape[xShape.length - 1];
  const [outF, inW] = wShape;
  if (inF !== inW) throw new Error(`linearRef: x's last dimension ${inF} and weight's ${inW} differ`);
  const rows = xShape.slice(0, -1).reduce((p, q) => p * q, 1);
  return { rows, inF, outF, outShape: [...xShape.slice(0, -1), outF] };
}

/** y = x·Wᵀ + b + Σ scale·(x·Aᵀ)·Bᵀ; x [..., in], W [out, in]. With no adapters: plain linear. */
export function linearLoraRef(
  x: Float64Array,
  xShape: readonly number[],
  w: Float64Array,
  wShape: readonly number[],
  bias: Float64Array | null,
  adapters: readonly LoraRefAdapter[] = [],
): { y: Float64Array; shape: number[] } {
  const { rows, inF, outF, outShape } = linearDims(xShape, wShape);
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    const h = adapters.map((ad) => {
      const hr = new Float64Array(ad.rank);
      for (let j = 0; j < ad.rank; j++) for (let i = 0; i < inF; i++) hr[j] += x[r * inF + i] * ad.A[j * inF + i];
      return hr;
    });
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      adapters.forEach((ad, q) => {
        let t = 0;
        for (let j = 0; j < ad.rank; j++) t += h[q][j] * ad.B[o * ad.rank + j];
        s += ad.scale * t;
      });
      y[r * outF + o] = s;
    }
  }
  return { y, shape: outShape };
}

export function linearRef(
  x: Float64Array,
  xShape: readonly number[],
  w: Float64Array,
  wShape: readonly number[],
  bias: Float64Array | null,
): { y: Float64Array; shape: number[] } {
  return linearLoraRef(x, xShape, w, wShape, bias, []);
}

/** Gradients of Σ gy·y for linearLoraRef: dx, dW, dbias and each adapter's dA, dB. */
export function linearLoraRefBackward(
  x: Float64Array,
  xShape: readonly number[],
  w: Float64Array,
  wShape: readonly number[],
  adapters: readonly LoraRefAdapter[],
  gy: Float64Array,
): { dx: Float64Array; dw: Float64Array; dbias: Float64Array; dA: Float64Array[]; dB: Float64Array[] } {
  const { rows, inF, outF } = linearDims(xShape, wShape);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const dbias = new Float64Array(outF);
  const dA = adapters.map((ad) => new Float64Array(ad.A.length));
  const dB = adapters.map((ad) => new Float64Array(ad.B.length));
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      const g = gy[r * outF + o];
      dbias[o] += g;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += g * w[o * inF + i];
        dw[o * inF + i] += g * x[r * inF + i];
      }
    }
    adapters.forEach((ad, q) => {
      // h = x_r·Aᵀ [rank]; gh = scale·g_r·B [rank]
      const h = new Float64Array(ad.rank);
      const gh = new Float64Array(ad.rank);
      for (let j = 0; j < ad.rank; j++) {
        for (let i = 0; i < inF; i++) h[j] += x[r * inF + i] * ad.A[j * inF + i];
        for (let o = 0; o < outF; o++) gh[j] += ad.scale * gy[r * outF + o] * ad.B[o * ad.rank + j];
      }
      for (let o = 0; o < outF; o++) {
        for (let j = 0; j < ad.rank; j++) dB[q][o * ad.rank + j] += ad.scale * gy[r * outF + o] * h[j];
      }
      for (let j = 0; j < ad.rank; j++) {
        for (let i = 0; i < inF; i++) {
          dA[q][j * inF + i] += gh[j] * x[r * inF + i];
          dx[r * inF + i] += gh[j] * ad.A[j * inF + i];
        }
      }
    });
  }
  return { dx, dw, dbias, dA, dB };
}
