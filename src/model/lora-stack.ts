// Several LoRAs applied together as one: scale·B·A of the stack is the sum of each one's s_k·B_k·A_k, exactly.
// A = [A_1; A_2; …] (ranks stacked), B = [s_1·B_1 | s_2·B_2 | …], alpha = rank (scale 1); a module one of them
// lacks gets zeros there. A run that started from another run's LoRA ("SOAR, then Flow-GRPO") exports its
// whole adapter this way: applied alone to the base, the file gives the model the run trained.
import type { Engine } from '../tensor/engine';
import { LoraSet } from './lora';

export async function stackLoras(engine: Engine, name: string, sets: readonly LoraSet[]): Promise<LoraSet> {
  if (sets.length === 0) throw new RangeError('stackLoras: no LoRA to stack');
  const rank = sets.reduce((r, s) => r + s.config.rank, 0);
  const targets = [...new Set(sets.flatMap((s) => s.config.targets))];
  const stacked = new LoraSet(name, { rank, alpha: rank, targets });
  const names = [...new Set(sets.flatMap((s) => [...s.modules.keys()]))];
  for (const module of names) {
    const first = sets.map((s) => s.modules.get(module)).find(Boolean)!;
    const inDim = first.A.shape[1];
    const out = first.B.shape[0];
    const A = new Float32Array(rank * inDim);
    const B = new Float32Array(out * rank);
    let r0 = 0;
    for (const s of sets) {
      const m = s.modules.get(module);
      const r = s.config.rank;
      if (m) {
        A.set(await m.A.toArray(), r0 * inDim);
        const b = await m.B.toArray();
        for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) B[o * rank + r0 + j] = s.scale * b[o * r + j];
      }
      r0 += r;
    }
    stacked.modules.set(module, { name: module, A: engine.keep(engine.fromArray(A, [rank, inDim], `${module}.lora_A`)), B: engine.keep(engine.fromArray(B, [out, rank], `${module}.lora_B`)) });
  }
  return stacked;
}
