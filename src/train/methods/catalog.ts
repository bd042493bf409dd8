// The methods as the page sees them (form fields, curves, costs): descriptors only, no engine code. The
// registry in index.ts adds each method's step; both list the same ids (test/train/methods.test.ts checks).
import type { TrainConfig } from '../config';
import { costOf, type MethodInfo, type StepCost } from './method';
import { sftInfo } from './sft';
import { grpoInfo } from './grpo';
import { soarInfo } from './soar';

/** SOAR's fields are TrainConfig's (the reference trainer's flat names), so DEFAULT_TRAIN spreads them. */
export { SOAR_DEFAULTS } from './soar';
export { GRPO_DEFAULTS } from './grpo';

export const METHOD_INFOS = { sft: sftInfo, soar: soarInfo, grpo: grpoInfo } as const;

export type Method = keyof typeof METHOD_INFOS;
export const METHOD_IDS = Object.keys(METHOD_INFOS) as Method[];

export function isMethod(v: unknown): v is Method {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(METHOD_INFOS, v);
}

/** The descriptor of a method id; a clear error naming the ids there are. */
export function methodInfo(id: string): MethodInfo {
  if (!isMethod(id)) throw new Error(`method must be one of ${METHOD_IDS.map((m) => `"${m}"`).join(', ')}, got ${JSON.stringify(id)}`);
  return METHOD_INFOS[id];
}

/** Short label of a method id (the id itself for one no module provides, e.g. from a newer studio's file). */
export function methodLabel(id: string): string {
  return isMethod(id) ? METHOD_INFOS[id].label : id.toUpperCase();
}

/** Transformer forwards and backwards per step, relative to SFT's 1 + 1 (for the UI and the benchmark). */
export function stepCost(c: TrainConfig): StepCost {
  return costOf(methodInfo(c.method).passes(c, 1), 1);
}
