// "ours" (the engine's production ops) and "naive" (the baseline kernels) for one case, on the engine's device.
import type { Engine } from '../../src/tensor/engine';
import type { Tensor } from '../../src/tensor/tensor';
import { attention } from '../../src/tensor/ops/attention';
import { matmul, matmulWith } from '../../src/tensor/ops/matmul';
import { add } from '../../src/tensor/ops/elementwise';
import { layerNorm } from '../../src/tensor/ops/norm';
import { softmax } from '../../src/tensor/ops/softmax';
import { naiveAdd, naiveAttention, naiveLayerNorm, naiveSoftmax } from '../lib/naive';
import { caseInputs, LN_EPS, type Case } from './cases';

export interface EngineCase {
  /** Each call records the op's dispatches and returns its output (the caller releases it). */
  ours: () => Tensor;
  naive: () => Tensor;
  /** What "naive" is, for the report. */
  naiveKind: string;
  release(): void;
}

export function engineCase(e: Engine, c: Case, data: Float32Array[]): EngineCase {
  const inputs = caseInputs(c).map((inp, i) => e.keep(e.fromArray(data[i], inp.shape, inp.name)));
  const release = () => inputs.forEach((t) => t.release());
  const [a, b, x] = inputs;
  switch (c.op) {
    case 'matmul':
      // `matmul` picks the kernel by shape (the tiled v2 at these sizes); v1 is the engine's own naive kernel.
      return { ours: () => matmul(a, b), naive: () => matmulWith('naive', a, b), naiveKind: "matmulWith('naive') (ops/matmul.ts v1)", release };
    case 'attention':
      return {
        ours: () => attention(a, b, x, c.H),
        naive: () => naiveAttention(a, b, x, c.H),
        naiveKind: 'bench/lib/naive.ts: QKᵀ, softmax, PV (3 dispatches, scores in DRAM)',
        release,
      };
    case 'layernorm':
      return {
        ours: () => layerNorm(a, b, x, LN_EPS),
        naive: () => naiveLayerNorm(a, b, x, LN_EPS),
        naiveKind: 'bench/lib/naive.ts: one thread per row',
        release,
      };
    case 'add':
      return { ours: () => add(a, b), naive: () => naiveAdd(a, b), naiveKind: 'bench/lib/naive.ts: one thread per element', release };
    case 'softmax':
      return { ours: () => softmax(a), naive: () => naiveSoftmax(a), naiveKind: 'bench/lib/naive.ts: one thread per row, three sweeps', release };
  }
}
