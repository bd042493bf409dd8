// Public surface of the programmatic evaluator for the built-in dataset.
export { detectObjects, type DetectedObject, type Detection, type DetectOptions } from './detect';
export { describeObject, evaluateImage, summarize, summarizeHeldOut, type EvalSummary, type ImageEval, type TaskScore } from './geneval';
export { PROTOTYPES, classifyShape, type MaskFeatures, type MomentFeatures } from './shape';
