// Flat index → element offset through up to 4 (merged) dims, shared by the broadcasting elementwise kernels
// and the reductions. Prepended in TypeScript (WGSL has no #include).
//   i: flat index in the output of shape d (outermost first, padded with 1 at the front)
//   st: strides of the operand in elements (0 on a broadcast dim)

fn strided_offset(i: u32, d: vec4u, st: vec4u) -> u32 {
  var r = i;
  let i3 = r % d.w;
  r = r / d.w;
  let i2 = r % d.z;
  r = r / d.z;
  let i1 = r % d.y;
  let i0 = r / d.y;
  return i0 * st.x + i1 * st.y + i2 * st.z + i3 * st.w;
}
