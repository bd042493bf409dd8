// Runs the exported text encoder with onnxruntime (the frozen encoder of post-training). The caller passes the
// `ort` module it configured: in the browser onnxruntime-web with its wasm files served locally
// (ort.env.wasm.wasmPaths) and the webgpu EP first; in Node onnxruntime-web's wasm EP (what the tests use:
// onnxruntime-node is not a dependency and fetches native binaries at install time, so it is not used offline).
import type * as OrtModule from 'onnxruntime-web';
import type { CaptionEncoder, EncodedCaptions } from './cache';
import type { TextEncoderConfig } from './config';
import { ONNX_CONTEXT, ONNX_INPUT, ONNX_POOLED } from './onnx-export';
import type { TokenIds } from './text-encoder';
import type { Tokenizer } from './tokenizer';

/** The parts of the onnxruntime module the runner uses (onnxruntime-web, or its /webgpu or /wasm builds). */
export type Ort = Pick<typeof OrtModule, 'InferenceSession' | 'Tensor'>;
export type SessionOptions = OrtModule.InferenceSession.SessionOptions;
export type ExecutionProvider = NonNullable<SessionOptions['executionProviders']>[number];

export interface OnnxRunnerOptions {
  /** Tried in order; default: webgpu then wasm where navigator.gpu exists, else wasm. */
  executionProviders?: ExecutionProvider[];
  /** Other session options (graph optimisation level, logging, ...). */
  sessionOptions?: Omit<SessionOptions, 'executionProviders'>;
}

export function defaultExecutionProviders(): ExecutionProvider[] {
  const hasWebGpu = typeof navigator !== 'undefined' && 'gpu' in navigator && !!(navigator as { gpu?: unknown }).gpu;
  return hasWebGpu ? ['webgpu', 'wasm'] : ['wasm'];
}

function providerName(p: ExecutionProvider): string {
  return typeof p === 'string' ? p : p.name;
}

export class OnnxTextEncoder {
  private constructor(
    private readonly ort: Ort,
    private readonly session: OrtModule.InferenceSession,
    /** The execution providers the session was created with (after any fallback). */
    readonly providers: string[],
    /** Why the preferred providers were given up, when they were. */
    readonly fallbackReason: string | null,
  ) {}

  /**
   * Opens a session on the model (bytes, or a URL the ort module can fetch). If the preferred providers fail
   * (no WebGPU adapter, an op the webgpu EP rejects), retries once with wasm alone and says why in
   * `fallbackReason`.
   */
  static async create(ort: Ort, model: Uint8Array | string, opts: OnnxRunnerOptions = {}): Promise<OnnxTextEncoder> {
    const eps = opts.executionProviders ?? defaultExecutionProviders();
    const open = (list: ExecutionProvider[]) =>
      typeof model === 'string'
        ? ort.InferenceSession.create(model, { ...opts.sessionOptions, executionProviders: list })
        : ort.InferenceSession.create(model, { ...opts.sessionOptions, executionProviders: list });
    try {
      return new OnnxTextEncoder(ort, await open(eps), eps.map(providerName), null);
    } catch (err) {
      if (eps.length === 1 && providerName(eps[0]) === 'wasm') throw err;
      const reason = `${eps.map(providerName).join(', ')} failed: ${(err as Error).message ?? err}`;
      return new OnnxTextEncoder(ort, await open(['wasm']), ['wasm'], reason);
    }
  }

  /** context [B, T, W] and pooled [B, P] for token ids [B, T]. */
  async run(tokens: TokenIds): Promise<{ context: Float32Array; pooled: Float32Array }> {
    const ids = BigInt64Array.from(tokens.ids, (v) => BigInt(v));
    const input = new this.ort.Tensor('int64', ids, [tokens.batch, tokens.length]);
    const out = await this.session.run({ [ONNX_INPUT]: input });
    try {
      // getData() downloads from GPU-located outputs; on CPU outputs it returns the data itself.
      const context = (await out[ONNX_CONTEXT].getData()) as Float32Array;
      const pooled = (await out[ONNX_POOLED].getData()) as Float32Array;
      return { context: Float32Array.from(context), pooled: Float32Array.from(pooled) };
    } finally {
      input.dispose();
      for (const t of Object.values(out)) t.dispose();
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The ONNX runner as a CaptionEncoder for the embedding cache. `id` names the model file (and its version). */
export function onnxCaptionEncoder(runner: OnnxTextEncoder, tokenizer: Tokenizer, config: TextEncoderConfig, id: string): CaptionEncoder {
  if (tokenizer.vocabSize !== config.vocab_size || tokenizer.maxLength !== config.max_position_embeddings) {
    throw new Error(`onnxCaptionEncoder: the tokenizer (${tokenizer.vocabSize} ids, ${tokenizer.maxLength} tokens) does not fit the encoder (${config.vocab_size}, ${config.max_position_embeddings})`);
  }
  return {
    id,
    tokens: config.max_position_embeddings,
    width: config.hidden_size,
    pooledWidth: config.projection_dim,
    async encode(captions: readonly string[]): Promise<EncodedCaptions> {
      if (captions.length === 0) return { context: new Float32Array(0), pooled: new Float32Array(0), truncated: [] };
      const tokens = tokenizer.encodeBatch(captions);
      return { ...(await runner.run(tokens)), truncated: tokens.truncated };
    },
  };
}
