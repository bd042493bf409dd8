// The header every benchmark report starts with: where it ran, on which adapter, and against which onnxruntime.
import { describeAdapter, type GpuContext } from '../../src/gpu/device';

export interface ReportHeader {
  env: string;
  date: string;
  platform: string;
  adapter: string;
  ortAdapter: string | null;
  ortVersion: string | null;
  ortNote: string | null;
  timestampQuery: boolean;
}

export function reportHeader(
  env: { name: string; platform: string; ctx: GpuContext; ortUnavailable?: string },
  ort: { adapterInfo?: GPUAdapterInfo | null; version?: string | null } | null,
  timestampQuery: boolean,
): ReportHeader {
  const info = ort?.adapterInfo;
  return {
    env: env.name,
    date: new Date().toISOString(),
    platform: env.platform,
    adapter: describeAdapter(env.ctx.summary),
    ortAdapter: info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : null,
    ortVersion: ort?.version ?? null,
    ortNote: env.ortUnavailable ?? null,
    timestampQuery,
  };
}
