// A run's LoRA from its config and checkpoint, outside a Trainer: for previews, exports and evaluation of a
// run that is not training (the studio's worker, the CLI's eval).
import type { SD3Config } from '../model/config';
import { LoraSet } from '../model/lora';
import type { Engine } from '../tensor/engine';
import type { TrainConfig } from './config';
import type { Checkpoint } from './trainer';

/**
 * The LoRA `cfg` describes, with the checkpoint's A and B (without one: the fresh adapter of the run's seed,
 * B = 0). A checkpoint of another LoRA shape, or of full training, is refused naming what does not fit.
 */
export function loraFromCheckpoint(engine: Engine, modelConfig: SD3Config, cfg: TrainConfig, ck?: Pick<Checkpoint, 'tensors'>, name: string = cfg.method): LoraSet {
  if (cfg.train_mode !== 'lora') throw new Error('this checkpoint trained the whole model, not a LoRA');
  const set = LoraSet.create(engine, name, modelConfig, { rank: cfg.rank, alpha: cfg.lora_alpha, targets: cfg.lora_targets }, cfg.seed);
  if (!ck) return set;
  for (const p of set.parameters()) {
    const saved = ck.tensors[p.name];
    if (!saved || saved.data.length !== p.size) {
      set.release();
      throw new Error(`the checkpoint has no ${p.name} of ${p.size} values: it was made with another LoRA config or base`);
    }
    engine.gpu.write(p.buffer, saved.data);
  }
  return set;
}
