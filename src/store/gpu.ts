// What the UI knows about the GPU, built only from the worker's messages (src/worker/protocol.ts).
import { create } from 'zustand';
import type { AdapterSummary } from '../gpu/device';
import type { SelfTestResult } from '../gpu/selftest';
import type { KernelChoices } from '../tensor/kernels';
import type { UnavailableReason, WorkerToUi } from '../worker/protocol';

export interface GpuState {
  /** searching: no answer yet; ready: an adapter and device; unavailable: no WebGPU / adapter / device. */
  phase: 'searching' | 'ready' | 'unavailable';
  adapter: { summary: AdapterSummary; description: string } | null;
  selftest: { result: SelfTestResult; text: string } | null;
  unavailable: { reason: UnavailableReason; message: string; advice: string } | null;
  /** Errors that are not "WebGPU is missing", newest last. */
  errors: { stage: string; message: string }[];
  lost: { reason: string; message: string } | null;
  /** The kernel variants the worker chose for this adapter (see src/tensor/tuning.ts). */
  kernels: { phase: 'measuring' } | { phase: 'ready'; text: string; measuredMs: number | null; choices: KernelChoices } | { phase: 'failed'; message: string } | null;
}

export const initialGpuState: GpuState = {
  phase: 'searching',
  adapter: null,
  selftest: null,
  unavailable: null,
  errors: [],
  lost: null,
  kernels: null,
};

/** Pure reducer, so the state machine is testable without a worker. */
export function reduceGpu(state: GpuState, m: WorkerToUi): GpuState {
  switch (m.type) {
    case 'gpu/adapter':
      return { ...state, phase: 'ready', adapter: { summary: m.summary, description: m.description } };
    case 'gpu/unavailable':
      return { ...state, phase: 'unavailable', unavailable: { reason: m.reason, message: m.message, advice: m.advice } };
    case 'gpu/selftest':
      return { ...state, selftest: { result: m.result, text: m.text } };
    case 'gpu/error':
      return { ...state, errors: [...state.errors, { stage: m.stage, message: m.message }] };
    case 'gpu/lost':
      return { ...state, lost: { reason: m.reason, message: m.message } };
    case 'gpu/kernels':
      return { ...state, kernels: m.phase === 'ready' ? { phase: 'ready', text: m.text, measuredMs: m.measuredMs, choices: m.choices } : m };
    default:
      return state; // messages for the other stores
  }
}

export const useGpuStore = create<GpuState>(() => initialGpuState);

export function applyWorkerMessage(m: WorkerToUi): void {
  useGpuStore.setState((s) => reduceGpu(s, m));
}
