// Dispatch-size helpers shared by every op.

/** Most adapters allow 65535 workgroups per dimension (the WebGPU default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Workgroup counts for `n` threads in workgroups of `size`, folded into y when x would pass the per-dimension
 * limit. Kernels recover the flat index as `gid.x + gid.y * nwg.x * size`.
 */
export function grid1d(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= MAX_WORKGROUPS_PER_DIM) return [Math.max(groups, 1), 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(groups / y), y];
}

/** Packs u32/i32/f32 fields into a 16-byte-aligned uniform block, in the order given. */
export function uniforms(fields: Array<['u32' | 'i32' | 'f32', number]>): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const dv = new DataView(buf);
  fields.forEach(([type, v], i) => {
    if (type === 'u32') dv.setUint32(i * 4, v, true);
    else if (type === 'i32') dv.setInt32(i * 4, v, true);
    else dv.setFloat32(i * 4, v, true);
  });
  return buf;
}
