// Files → "A full fine-tune as a LoRA": the transformer a full fine-tune (the reference trainer's run) gives back,
// turned into a LoRA of the studio's base by a truncated SVD of each targeted module's weight difference
// (src/io/tuned-to-lora.ts), then stored and listed like an imported LoRA file (previewed, compared, exported).
// The picked files are read a tensor at a time (Blob.slice), so a 5 GB transformer never sits in memory whole.
import { blobSource } from '../codec/safetensors-chunked';
import { SafetensorsError } from '../codec/safetensors';
import { exportLora } from '../io/lora-format';
import { openTunedTransformer, TunedInputError } from '../io/tuned-transformer';
import { extractLoraFromTuned, summarizeEnergy } from '../io/tuned-to-lora';
import type { Engine } from '../tensor/engine';
import type { StudioBase } from './base';
import { message, type StudioFiles } from './files';
import type { Mutex } from './lock';
import type { UiToWorker } from './protocol';
import type { Post } from './runs';

export interface ExtractContext {
  base(): Promise<StudioBase>;
  currentBase(): StudioBase | null;
  engine(): Promise<Engine>;
  readonly lock: Mutex;
  readonly post: Post;
  readonly files: StudioFiles;
  /** Between modules, so pause/stop and training steps get through (default setTimeout(0)). */
  yieldToEvents?: () => Promise<void>;
}

type ExtractRequest = Extract<UiToWorker, { type: 'lora/extract' }>;

const READ_ADVICE = 'The file is not a safetensors file, or it is damaged or truncated (a download that did not finish): save or download it again.';

export class FineTuneExtractor {
  private busy = false;

  constructor(private readonly ctx: ExtractContext) {}

  async extract(req: ExtractRequest): Promise<void> {
    const { post } = this.ctx;
    if (this.busy) {
      post({ type: 'lora/extract-error', message: 'An extraction is already running.', advice: 'Wait for it to finish, then pick the next fine-tune.' });
      return;
    }
    this.busy = true;
    try {
      const sb = await this.ctx.base();
      const engine = await this.ctx.engine();
      const tuned = await openTunedTransformer(req.files.map((f) => ({ path: f.path, source: blobSource(f.file, f.path) })));
      const name = `${req.name} (rank ${req.rank})`;
      const pause = this.ctx.yieldToEvents ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
      const { set, modules } = await extractLoraFromTuned(engine, sb.base.model.config, tuned, sb.info.id, {
        rank: req.rank,
        targets: req.targets,
        name,
        // The base is shared with training and compare: a readback waits for whoever holds it (lock.ts).
        baseWeight: (n) => this.ctx.lock.run(() => sb.base.model.weights.get(n)!.toArray()),
        onModule: async (done, total, module) => {
          post({ type: 'lora/extract-progress', done, total, module });
          await pause();
        },
      });
      let bytes: Uint8Array;
      const summary = summarizeEnergy(modules, req.rank);
      try {
        if (this.ctx.currentBase() !== sb) throw new TunedInputError('the base model was changed during the extraction', 'Pick the fine-tune again: it is taken against the base loaded now.');
        const notes = { extraction: JSON.stringify({ tuned: tuned.description, ...summary }) };
        const info = { baseModelId: sb.info.id, baseModelHash: sb.base.manifest.transformer_hash, method: 'unknown' as const, steps: 0, notes };
        bytes = await this.ctx.lock.run(() => exportLora(set, info));
      } finally {
        set.release();
      }
      // Stored and listed exactly as an imported file (survives a reload, is compared and exported the same way).
      const id = await this.ctx.files.importLora(name, bytes);
      if (id) post({ type: 'lora/extracted', runId: id, name, source: tuned.description, summary, modules });
      else post({ type: 'lora/extract-error', message: `The LoRA taken from ${tuned.description} could not be added.`, advice: 'See the LoRA error above; nothing was changed.' });
    } catch (e) {
      const advice = e instanceof TunedInputError ? e.advice : e instanceof SafetensorsError ? READ_ADVICE : 'Nothing was changed. Load the base, then pick the fine-tune again; the browser console may say more.';
      post({ type: 'lora/extract-error', message: `The fine-tune could not be imported: ${message(e)}`, advice });
    } finally {
      this.busy = false;
    }
  }
}
