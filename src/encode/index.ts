// The text side of the model: tokenizer, text encoder (engine model, float64 reference, ONNX export and runner),
// weights files and the embedding cache. See each file's header; README's architecture section names the flow:
// caption -> Tokenizer -> ids [B, T] -> TextEncoderModel (pretraining) or OnnxTextEncoder (frozen, post-training)
// -> context [B, T, joint_attention_dim] + pooled [B, pooled_projection_dim] -> EmbeddingCache -> MMDiT.
export * from './tokenizer';
export { builtinTokenizer, builtinVocabulary, BUILTIN_BUCKETS } from './builtin-vocab';
export * from './config';
export { embedding } from './embedding';
export { TextEncoderModel, engineCaptionEncoder, type TextEncoderOutput, type TokenIds } from './text-encoder';
export { initTextWeights, saveTextEncoder, loadTextEncoder, checkTextWeights, checkVocabularyFits, type HostWeights } from './weights';
export { exportTextEncoderOnnx, textEncoderGraph, ONNX_INPUT, ONNX_CONTEXT, ONNX_POOLED } from './onnx-export';
export { OnnxTextEncoder, onnxCaptionEncoder, defaultExecutionProviders, type Ort, type OnnxRunnerOptions } from './onnx-runner';
export * from './cache';
