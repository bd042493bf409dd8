// A run's LoRA from its config and checkpoint, outside a Trainer: for previews, exports and evaluation of a
// run that is not training (the studio's worker, the CLI's eval), and the LoRA a run starts from.
import type { SD3Config } from '../model/config';
import { LoraSet, type LoraConfig } from '../model/lora';
import type { Engine } from '../tensor/engine';
import type { TrainConfig } from './config';
import type { Checkpoint } from './trainer';

/**
 * The LoRA `cfg` describes, with the checkpoint's A and B (without one: the fresh adapter of the run's seed,
 * B = 0). A checkpoint of another LoRA shape, or of full training, is refused naming what does not fit.
 */
export function loraFromCheckpoint(engine: Engine, modelConfig: SD3Config, cfg: TrainConfig, ck?: Pick<Checkpoint, 'tensors'>, name: string = cfg.method): LoraSet {
  if (cfg.train_mode !== 'lora') throw new Error('this checkpoint trained the whole model, not a LoRA');
  const config = { rank: cfg.rank, alpha: cfg.lora_alpha, targets: cfg.lora_targets };
  if (!ck) return LoraSet.create(engine, name, modelConfig, config, cfg.seed);
  return loraFromTensors(engine, modelConfig, name, config, ck.tensors);
}

/** A LoRA of `config` holding `tensors` (by parameter name); refused naming the first that is missing or of another size. */
export function loraFromTensors(engine: Engine, modelConfig: SD3Config, name: string, config: LoraConfig, tensors: Checkpoint['tensors']): LoraSet {
  const set = LoraSet.create(engine, name, modelConfig, config, 0);
  for (const p of set.parameters()) {
    const saved = tensors[p.name];
    if (!saved || saved.data.length !== p.size) {
      set.release();
      throw new Error(`the checkpoint has no ${p.name} of ${p.size} values: it was made with another LoRA config or base`);
    }
    engine.gpu.write(p.buffer, saved.data);
  }
  return set;
}

/** A LoRA's tensors on the host, by parameter name (as a checkpoint holds them). */
export async function loraTensors(lora: LoraSet): Promise<Checkpoint['tensors']> {
  const out: Checkpoint['tensors'] = {};
  for (const t of lora.parameters()) out[t.name] = { shape: [...t.shape], data: await t.toArray() };
  return out;
}
