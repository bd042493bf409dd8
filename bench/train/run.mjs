// Launcher for `npm run bench:train`: the kernel benchmark's launcher (Vite SSR loader, Vulkan loader path,
// explicit exit) with this benchmark's entry module.
process.env.SOAR_BENCH_ENTRY = '/bench/train/run.ts';
await import('../kernels/run.mjs');
