// Text embeddings keyed by caption: each distinct caption is encoded once (in batches), kept in memory, and
// can be snapshotted for the app to persist (IndexedDB stores Float32Arrays by structured clone) and restored.
// The empty caption's embedding is the unconditional input for classifier-free guidance.
//
// Keys are the raw captions. Two captions that normalise alike ('A Cat', 'a cat') are stored twice: a few
// kilobytes each, and the key stays what the user wrote. A snapshot records the encoder's id (weights +
// vocabulary), so embeddings from another encoder are never reused.

import type { Engine } from '../tensor/engine';
import type { Tensor } from '../tensor/tensor';

/** Per-caption outputs of an encoder, row-major. */
export interface EncodedCaptions {
  /** [B, tokens, width] */
  context: Float32Array;
  /** [B, pooledWidth] */
  pooled: Float32Array;
  /** Per caption: did the tokenizer drop pieces? */
  truncated: boolean[];
}

/** Anything that turns captions into embeddings: the ONNX runner (onnx-runner.ts) or the engine model. */
export interface CaptionEncoder {
  /** Identifies the weights and vocabulary; embeddings made by another id are not interchangeable. */
  readonly id: string;
  readonly tokens: number;
  readonly width: number;
  readonly pooledWidth: number;
  encode(captions: readonly string[]): Promise<EncodedCaptions>;
}

export interface TextEmbedding {
  /** [tokens, width] */
  context: Float32Array;
  /** [pooledWidth] */
  pooled: Float32Array;
  truncated: boolean;
}

export interface EmbeddingSnapshot {
  encoderId: string;
  tokens: number;
  width: number;
  pooledWidth: number;
  entries: Array<[string, TextEmbedding]>;
}

export interface EmbeddingCacheOptions {
  /** Captions per encoder call (default 32). */
  maxBatch?: number;
  /** Called once per newly encoded caption (the app can persist incrementally). */
  onAdd?: (caption: string, embedding: TextEmbedding) => void;
}

/** A batch stacked for upload: context [B, tokens, width], pooled [B, pooledWidth]. */
export interface StackedEmbeddings {
  context: Float32Array;
  pooled: Float32Array;
  batch: number;
  tokens: number;
  width: number;
  pooledWidth: number;
  truncated: boolean[];
}

/** A stacked batch on the GPU as the MMDiT's text inputs: context [B, tokens, width] and pooled [B, pooledWidth]. */
export function uploadEmbeddings(engine: Engine, s: StackedEmbeddings): { context: Tensor; pooled: Tensor } {
  return {
    context: engine.fromArray(s.context, [s.batch, s.tokens, s.width], 'context'),
    pooled: engine.fromArray(s.pooled, [s.batch, s.pooledWidth], 'pooled'),
  };
}

export class EmbeddingCache {
  private readonly map = new Map<string, TextEmbedding>();
  /** Captions being encoded: a second request for one waits for the first instead of encoding it again. */
  private readonly pending = new Map<string, Promise<TextEmbedding>>();
  private readonly maxBatch: number;

  constructor(
    readonly encoder: CaptionEncoder,
    private readonly opts: EmbeddingCacheOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 32;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`EmbeddingCache: maxBatch ${opts.maxBatch} must be a positive integer`);
  }

  get size(): number {
    return this.map.size;
  }

  has(caption: string): boolean {
    return this.map.has(caption);
  }

  get(caption: string): TextEmbedding | undefined {
    return this.map.get(caption);
  }

  /** Embeddings of the captions, in order; only captions never seen before are encoded, each once. */
  async embed(captions: readonly string[]): Promise<TextEmbedding[]> {
    const missing = [...new Set(captions)].filter((c) => !this.map.has(c) && !this.pending.has(c));
    for (let i = 0; i < missing.length; i += this.maxBatch) this.start(missing.slice(i, i + this.maxBatch));
    return Promise.all(captions.map((c) => this.map.get(c) ?? this.pending.get(c)!));
  }

  /** The empty caption's embedding: the unconditional input for classifier-free guidance. */
  async unconditional(): Promise<TextEmbedding> {
    return (await this.embed(['']))[0];
  }

  /** The captions' embeddings stacked into one batch, ready to upload as the MMDiT's context and pooled. */
  async stacked(captions: readonly string[]): Promise<StackedEmbeddings> {
    const embs = await this.embed(captions);
    const { tokens, width, pooledWidth } = this.encoder;
    const context = new Float32Array(embs.length * tokens * width);
    const pooled = new Float32Array(embs.length * pooledWidth);
    embs.forEach((e, b) => {
      context.set(e.context, b * tokens * width);
      pooled.set(e.pooled, b * pooledWidth);
    });
    return { context, pooled, batch: embs.length, tokens, width, pooledWidth, truncated: embs.map((e) => e.truncated) };
  }

  clear(): void {
    this.map.clear();
  }

  snapshot(): EmbeddingSnapshot {
    const { id, tokens, width, pooledWidth } = this.encoder;
    return { encoderId: id, tokens, width, pooledWidth, entries: [...this.map] };
  }

  /** Adds a snapshot's entries when it came from this encoder; returns how many were taken (0 otherwise). */
  restore(s: EmbeddingSnapshot): number {
    const { id, tokens, width, pooledWidth } = this.encoder;
    if (s.encoderId !== id || s.tokens !== tokens || s.width !== width || s.pooledWidth !== pooledWidth) return 0;
    let n = 0;
    for (const [caption, e] of s.entries) {
      if (e.context?.length !== tokens * width || e.pooled?.length !== pooledWidth) continue; // damaged entry: re-encode later
      this.map.set(caption, { context: e.context, pooled: e.pooled, truncated: !!e.truncated });
      n++;
    }
    return n;
  }

  private start(batch: string[]): void {
    const { tokens, width, pooledWidth } = this.encoder;
    const run = this.encoder.encode(batch).then((out) => {
      if (out.context.length !== batch.length * tokens * width || out.pooled.length !== batch.length * pooledWidth) {
        throw new Error(`EmbeddingCache: encoder ${this.encoder.id} returned ${out.context.length} + ${out.pooled.length} values for ${batch.length} captions`);
      }
      return batch.map((caption, b) => {
        const e: TextEmbedding = {
          context: out.context.slice(b * tokens * width, (b + 1) * tokens * width),
          pooled: out.pooled.slice(b * pooledWidth, (b + 1) * pooledWidth),
          truncated: out.truncated[b] ?? false,
        };
        this.map.set(caption, e);
        this.opts.onAdd?.(caption, e);
        return e;
      });
    });
    const settled = run.finally(() => batch.forEach((c) => this.pending.delete(c)));
    settled.catch(() => {}); // the error reaches the callers through the per-caption promises below
    batch.forEach((c, b) => this.pending.set(c, settled.then((embs) => embs[b])));
  }
}
