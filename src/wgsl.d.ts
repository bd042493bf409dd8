// WGSL sources are imported as strings through Vite's `?raw` suffix, which works the same in the browser,
// in the worker bundle and in vitest: `import code from '../../shaders/selftest.wgsl?raw'`.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
