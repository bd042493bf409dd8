// onnxruntime-web in a benchmark page: not bundled; run.ts serves its dist/ folder at /ort/, and the page imports
// the JSEP build (the same dist/ort.min.mjs as in Node) with its wasm from there, so nothing comes from the
// network. Shared by every benchmark's browser entry.
import type { Ort } from '../kernels/ort';

const ORT_BASE = '/ort/';

export async function loadPageOrt(): Promise<{ ort: Ort | null; ortUnavailable?: string }> {
  try {
    const ort = (await import(/* @vite-ignore */ `${ORT_BASE}ort.min.mjs`)) as Ort;
    ort.env.wasm.wasmPaths = ORT_BASE;
    return { ort };
  } catch (err) {
    return { ort: null, ortUnavailable: `onnxruntime-web did not load: ${err instanceof Error ? err.message : String(err)}` };
  }
}
