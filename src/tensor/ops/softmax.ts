// softmax over the last dimension, with backward (shaders/softmax.wgsl; reference: reference/softmax.ts).
import code from '../../../shaders/softmax.wgsl?raw';
import { record } from '../autograd';
import { grid1d, uniforms } from '../dispatch';
import type { Tensor } from '../tensor';

/** Threads per row: see the WG note in shaders/softmax.wgsl. */
function threadsPerRow(n: number): number {
  return n <= 256 ? 64 : 256;
}

function kernel(entryPoint: 'forward' | 'backward', n: number) {
  const wg = threadsPerRow(n);
  return { name: `softmax_${entryPoint}_wg${wg}`, code, entryPoint, constants: { WG: wg } };
}

/** softmax(x) over the last dimension of x (any rank ≥ 1). Records its backward, which needs only y. */
export function softmax(x: Tensor): Tensor {
  if (x.shape.length === 0) throw new RangeError(`softmax: ${x.describe()} has no last dimension`);
  const e = x.engine;
  const n = x.shape[x.shape.length - 1];
  const rows = n === 0 ? 0 : x.size / n;
  const y = e.empty(x.shape, 'softmax');
  if (rows > 0) {
    e.gpu.dispatch({
      kernel: kernel('forward', n),
      buffers: [x.buffer, y.buffer],
      uniforms: uniforms([['u32', rows], ['u32', n]]),
      workgroups: grid1d(rows, 1),
      detail: x.describe(),
    });
  }
  return record(y, 'softmax', [x], [y], (dy, [ySaved]) => [softmaxBackward(ySaved, dy)]);
}

/** dx = y∘(dy − Σ dy·y) per row, from the forward's output y. */
export function softmaxBackward(y: Tensor, dy: Tensor): Tensor {
  if (dy.size !== y.size) throw new RangeError(`softmax backward: gradient ${dy.describe()} does not match ${y.describe()}`);
  const e = y.engine;
  const n = y.shape[y.shape.length - 1];
  const rows = n === 0 ? 0 : y.size / n;
  const dx = e.empty(y.shape, 'softmax.grad');
  if (rows > 0) {
    e.gpu.dispatch({
      kernel: kernel('backward', n),
      buffers: [y.buffer, dy.buffer, dx.buffer],
      uniforms: uniforms([['u32', rows], ['u32', n]]),
      workgroups: grid1d(rows, 1),
      detail: y.describe(),
    });
  }
  return dx;
}
