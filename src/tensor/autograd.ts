// The autograd tape. Each op that runs with grad enabled on an input that requires grad records a node on its
// output: the inputs, the tensors it saved for backward, and a backward function that maps the output's
// gradient to the inputs' gradients. `backward(loss)` walks the nodes in reverse topological order.
//
// - Leaf gradients ACCUMULATE into `leaf.grad` across backward calls (SOAR backpropagates its main and its
//   auxiliary items separately); `zeroGrad` clears them.
// - A backward frees what it no longer needs: each node's saved tensors and its output gradient are released
//   as soon as the node has run, and the node is cut from the graph.
import type { Engine } from './engine';
import { fmtShape, type Tensor } from './tensor';

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  /** Detached, scope-free views the backward reads; released once the node has run. */
  saved: Tensor[];
  /** Gradients for `inputs`, in order (null where an input needs none). Runs with grad disabled. */
  backward: (gradOut: Tensor, saved: Tensor[]) => Array<Tensor | null>;
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(engine: Engine, inputs: Array<Tensor | null | undefined>): boolean {
  return engine.gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/**
 * Records `out = op(inputs)` on the tape when any input requires grad (and grad is enabled).
 * `save` lists tensors the backward needs; they stay alive until the node has run even if the caller or
 * the enclosing scope releases them.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  save: Tensor[],
  backward: TapeNode['backward'],
): Tensor {
  const engine = out.engine;
  if (!needsGrad(engine, inputs)) return out;
  out.requiresGrad = true;
  out.node = {
    op,
    inputs,
    saved: save.map((t) => engine.keep(t.detach())),
    backward,
  };
  return out;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: a deep model would overflow the JS stack with recursion.
  const stack: Array<[Tensor, number]> = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i === 0) {
      if (seen.has(t)) {
        stack.pop();
        continue;
      }
      seen.add(t);
    }
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.node && !seen.has(next)) stack.push([next, 0]);
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order; // inputs before outputs
}

/**
 * Backpropagates from `root` (a scalar unless `gradRoot` is given). Leaf gradients accumulate into `.grad`.
 * The graph below `root` is consumed: a second backward through it raises an error.
 */
export function backward(root: Tensor, gradRoot?: Tensor): void {
  const engine = root.engine;
  if (!root.requiresGrad) throw new Error(`backward: ${root.describe()} does not require grad (was it computed under noGrad or from detached inputs?)`);
  if (!gradRoot && root.size !== 1) throw new Error(`backward: ${root.describe()} is not a scalar; pass its gradient`);
  if (gradRoot && gradRoot.size !== root.size) throw new Error(`backward: gradient ${gradRoot.describe()} does not match ${root.describe()}`);

  engine.scope(() =>
    engine.noGrad(() => {
      const grads = new Map<Tensor, Tensor>();
      const seed = gradRoot ? gradRoot.detach() : engine.full(root.shape, 1, 'grad.seed');
      accumulate(engine, root, seed, grads);
      const order = topoOrder(root);
      for (let k = order.length - 1; k >= 0; k--) {
        const t = order[k];
        const node = t.node;
        const g = grads.get(t);
        grads.delete(t);
        if (!node) continue; // a leaf: handled in accumulate
        if (!g) {
          freeNode(t);
          continue;
        }
        const inputGrads = node.backward(g, node.saved);
        g.release();
        node.inputs.forEach((input, i) => {
          const gi = inputGrads[i];
          if (!gi) return;
          if (gi.size !== input.size) {
            throw new Error(`backward of ${node.op}: gradient ${fmtShape(gi.shape)} for input ${input.describe()} has the wrong size`);
          }
          if (input.requiresGrad) accumulate(engine, input, gi, grads);
          else gi.release();
        });
        freeNode(t);
      }
    }),
  );
}

// Backward functions may return views that share storage with their output gradient or with each other
// (an add passes dy to both inputs). Accumulating in place into such a gradient would corrupt the others, so a
// shared gradient is copied before it is first accumulated into, and a leaf never keeps a shared one.
function accumulate(engine: Engine, t: Tensor, g: Tensor, grads: Map<Tensor, Tensor>): void {
  if (t.node) {
    let prev = grads.get(t);
    if (prev) {
      if (prev.store.refs > 1) {
        const own = engine.clone(prev);
        prev.release();
        grads.set(t, (prev = own));
      }
      engine.axpy(prev, g);
      g.release();
    } else grads.set(t, g);
    return;
  }
  // Leaf: persistent gradient, owned by the leaf (not by any scope).
  if (t.grad) {
    engine.axpy(t.grad, g);
    g.release();
    return;
  }
  const sameShape = g.shape.length === t.shape.length && g.shape.every((d, i) => d === t.shape[i]);
  let own = g.store.refs > 1 ? engine.clone(g) : g;
  if (own !== g) g.release();
  if (!sameShape) {
    const shaped = own.reshape(t.shape);
    own.release();
    own = shaped;
  }
  engine.keep(own);
  own.name = `${t.name}.grad`;
  t.grad = own;
}

function freeNode(t: Tensor): void {
  const node = t.node;
  if (!node) return;
  for (const s of node.saved) s.release();
  node.saved = [];
  t.node = null;
  // A consumed intermediate can no longer carry gradient: using it again in a backward is an error.
  t.requiresGrad = false;
}

/** Clears accumulated gradients of the given leaves. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.release();
    p.grad = null;
  }
}
