// Fine-tuned transformers as the reference trainer saves them, built on the host for the extraction tests: a
// base's weights plus known deltas, written whole, in BF16, or as diffusers shards with their index. No GPU here:
// the e2e specs build their files with these too.
import { writeSafetensors, type TensorToWrite } from '../../src/codec/safetensors';
import { bytesSource } from '../../src/codec/safetensors-chunked';
import type { TunedFile } from '../../src/io/tuned-transformer';
import { SeededRandom } from '../../src/model/random';

/** Deterministic uniform [lo, hi) numbers. Not the kernel harness's: that one brings the GPU, and the e2e specs use these. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const rng = new SeededRandom(seed);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
}

/** ΔW = scale·U·V for random U [out, r], V [r, in]: rank r exactly. */
export function lowRankDelta(out: number, inF: number, r: number, seed: number, scale = 0.05): Float64Array {
  const U = uniform(out * r, seed);
  const V = uniform(r * inF, seed + 1);
  const W = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) for (let i = 0; i < inF; i++) W[o * inF + i] += scale * U[o * r + j] * V[j * inF + i];
  return W;
}

/** The base's tensors with `deltas` added (float32, as a fine-tune would store them). */
export function tunedTensors(base: Map<string, TensorToWrite>, deltas: Map<string, ArrayLike<number>>): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [name, t] of base) {
    const d = deltas.get(name);
    out.set(name, { shape: t.shape, data: d ? Float32Array.from(t.data, (x, i) => x + d[i]) : t.data });
  }
  return out;
}

/** A safetensors file in BF16 (round to nearest even from float32), which writeSafetensors does not write. */
export function bf16File(tensors: Map<string, TensorToWrite>): Uint8Array {
  const f32 = writeSafetensors(tensors, {}, 'F32');
  const n = Number(new DataView(f32.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(f32.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = new DataView(f32.buffer, 8 + n);
  const out: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, e] of Object.entries(header)) {
    const count = (e.data_offsets[1] - e.data_offsets[0]) / 4;
    const bytes = new Uint8Array(count * 2);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < count; i++) {
      const bits = data.getUint32(e.data_offsets[0] + i * 4, true);
      view.setUint16(i * 2, (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16, true);
    }
    out[name] = { dtype: 'BF16', shape: e.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(out));
  const file = new Uint8Array(8 + json.length + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    file.set(c, pos);
    pos += c.length;
  }
  return file;
}

/** diffusers' sharded save: `diffusion_pytorch_model-0000k-of-0000n.safetensors` + the index, under `dir`. */
export function shardedFiles(tensors: Map<string, TensorToWrite>, shards: number, dir = 'transformer', dtype: 'F32' | 'F16' = 'F32'): Map<string, Uint8Array> {
  const names = [...tensors.keys()].sort();
  const files = new Map<string, Uint8Array>();
  const weightMap: Record<string, string> = {};
  const pad = (k: number) => String(k).padStart(5, '0');
  for (let s = 0; s < shards; s++) {
    const file = `diffusion_pytorch_model-${pad(s + 1)}-of-${pad(shards)}.safetensors`;
    const part = new Map(names.filter((_, i) => i % shards === s).map((n) => [n, tensors.get(n)!]));
    for (const n of part.keys()) weightMap[n] = file;
    files.set(`${dir}/${file}`, writeSafetensors(part, {}, dtype));
  }
  const index = { metadata: { total_size: 0 }, weight_map: weightMap };
  files.set(`${dir}/diffusion_pytorch_model.safetensors.index.json`, new TextEncoder().encode(JSON.stringify(index)));
  return files;
}

/** Files as the picker gives them, read by range from memory. */
export function asTunedFiles(files: Map<string, Uint8Array>): TunedFile[] {
  return [...files].map(([path, bytes]) => ({ path, source: bytesSource(bytes, path) }));
}
