// Findings computed from a report, for bench/results/train.md and the terminal: where SOAR's step time goes
// relative to its FLOPs, and what the allocation / submit counters say. Each finding is derived from the
// numbers of this run (and disappears when the cause is fixed), so the Markdown never goes stale.
import type { Breakdown, CaseProfile, CaseResult, TrainBenchReport } from './bench';
import type { Phase } from './probe';

const GROUPS: Array<{ name: string; phases: Phase[] }> = [
  { name: 'forward (main + uncond + aux)', phases: ['fwd.main', 'fwd.uncond', 'fwd.aux'] },
  { name: 'backward (main + aux)', phases: ['bwd.main', 'bwd.aux'] },
  { name: 'glue (prep, losses, rollout, aux gather, metrics)', phases: ['prep', 'loss.main', 'rollout', 'aux.gather', 'loss.aux', 'metrics'] },
  { name: 'optimizer (grad norm + AdamW)', phases: ['optimizer'] },
];

/** Kernel families, for the split of the model phases' time. */
function family(kernel: string): string {
  if (kernel.startsWith('matmul')) return 'matmul';
  if (kernel.startsWith('attention')) return 'attention';
  if (kernel.startsWith('norm.') || kernel.startsWith('modulate.')) return 'norm/modulate';
  if (kernel.startsWith('shape')) return 'shape copies';
  return 'elementwise/other';
}

const f1 = (x: number) => x.toFixed(1);
const sgn = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

function phaseSum(p: CaseProfile, phases: readonly Phase[]): Breakdown {
  const out: Breakdown = { dispatches: 0, flops: 0, gpuMs: 0 };
  for (const ph of phases) {
    const b = p.phases[ph];
    if (!b) continue;
    out.dispatches += b.dispatches;
    out.flops += b.flops;
    out.gpuMs = (out.gpuMs ?? 0) + (b.gpuMs ?? 0);
  }
  return out;
}

function familySplit(p: CaseProfile, phases: readonly Phase[]): Map<string, Breakdown> {
  const out = new Map<string, Breakdown>();
  for (const ph of phases) {
    for (const [k, b] of Object.entries(p.phaseKernels[ph] ?? {})) {
      const f = family(k);
      const e = out.get(f) ?? { dispatches: 0, flops: 0, gpuMs: 0 };
      e.dispatches += b.dispatches;
      e.flops += b.flops;
      e.gpuMs = (e.gpuMs ?? 0) + (b.gpuMs ?? 0);
      out.set(f, e);
    }
  }
  return out;
}

/** SOAR's profiled time against SFT's scaled by the FLOP ratio, per group of phases and per kernel family. */
function gap(sft: CaseResult, soar: CaseResult, ratio: number): string[] {
  const a = sft.profile;
  const b = soar.profile;
  if (!a?.timed || !b?.timed) return [];
  const out = [
    `Profiled steps (kernel time, one pass per dispatch): SFT ${f1(a.kernelMs)} ms, SOAR ${f1(b.kernelMs)} ms. If every millisecond of SFT scaled with the FLOP ratio ${ratio.toFixed(2)}, SOAR would take ${f1(ratio * a.kernelMs)} ms; it takes ${sgn(b.kernelMs - ratio * a.kernelMs)} ms more:`,
    '',
    '| part of the step | SFT ms | SOAR ms | FLOP ratio × SFT | SOAR − that | SFT disp | SOAR disp |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const g of GROUPS) {
    const x = phaseSum(a, g.phases);
    const y = phaseSum(b, g.phases);
    out.push(`| ${g.name} | ${f1(x.gpuMs ?? 0)} | ${f1(y.gpuMs ?? 0)} | ${f1(ratio * (x.gpuMs ?? 0))} | ${sgn((y.gpuMs ?? 0) - ratio * (x.gpuMs ?? 0))} | ${x.dispatches} | ${y.dispatches} |`);
  }
  const model: Phase[] = ['fwd.main', 'fwd.uncond', 'fwd.aux', 'bwd.main', 'bwd.aux'];
  const fa = familySplit(a, model);
  const fb = familySplit(b, model);
  out.push('', 'Inside the forwards and backwards, by kernel family (GFLOP/s = FLOPs / profiled time):', '', '| kernel family | SFT ms | SOAR ms | FLOP ratio × SFT | SOAR − that | SFT GFLOP/s | SOAR GFLOP/s |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const f of new Set([...fa.keys(), ...fb.keys()])) {
    const x = fa.get(f) ?? { dispatches: 0, flops: 0, gpuMs: 0 };
    const y = fb.get(f) ?? { dispatches: 0, flops: 0, gpuMs: 0 };
    const rate = (z: Breakdown) => (z.flops && z.gpuMs ? (z.flops / z.gpuMs / 1e6).toFixed(3) : '-');
    out.push(`| ${f} | ${f1(x.gpuMs ?? 0)} | ${f1(y.gpuMs ?? 0)} | ${f1(ratio * (x.gpuMs ?? 0))} | ${sgn((y.gpuMs ?? 0) - ratio * (x.gpuMs ?? 0))} | ${rate(x)} | ${rate(y)} |`);
  }
  // Same work, different method: fwd.main and bwd.main are identical in SFT and SOAR, so their difference is
  // measurement noise (other processes on the CPU that runs SwiftShader), a yardstick for the rest.
  const same = (['fwd.main', 'bwd.main'] as const).map((ph) => `${ph} ${f1(a.phases[ph]?.gpuMs ?? 0)} vs ${f1(b.phases[ph]?.gpuMs ?? 0)} ms`);
  out.push('', `Noise yardstick: the main forward and backward are the same work in both methods: ${same.join(', ')}.`);
  const rates = (['fwd.main', 'fwd.uncond', 'fwd.aux', 'bwd.main', 'bwd.aux'] as const)
    .map((ph) => [ph, b.phases[ph]] as const)
    .filter(([, v]) => v && v.gpuMs)
    .map(([ph, v]) => `${ph} ${(v!.flops / v!.gpuMs! / 1e6).toFixed(3)}`);
  out.push(`SOAR GFLOP/s per phase: ${rates.join(', ')} (the aux passes run at batch ${soar.config.auxItems}, the others at ${soar.config.batch}).`);
  const glue = (['loss.main', 'rollout', 'aux.gather', 'loss.aux', 'metrics'] as const).map((ph) => {
    const v = b.phases[ph];
    if (!v) return null;
    const kernels = Object.entries(b.phaseKernels[ph] ?? {}).map(([k, z]) => `${k} ×${z.dispatches}`).join(', ');
    return `- ${ph}: ${v.dispatches} dispatches, ${f1(v.gpuMs ?? 0)} ms, ${v.uploads} uploads (${v.uploadBytes} B): ${kernels}`;
  });
  out.push('', 'SOAR glue work (outside the model):', '', ...glue.filter((x): x is string => x !== null));
  return out;
}

function allocationFindings(cases: CaseResult[]): string[] {
  const out: string[] = [];
  const leaks = new Map<string, string[]>();
  for (const c of cases) {
    for (const [label, v] of Object.entries(c.leakedLabels)) {
      const per = v.count / c.steps.length;
      leaks.set(label, [...(leaks.get(label) ?? []), `${c.preset} ${c.method}: ${per}/step, phase ${v.phase}`]);
    }
  }
  if (leaks.size) {
    out.push(
      `- Pool buffers acquired every step and never released: ${[...leaks].map(([l, where]) => `'${l}' (${where.join('; ')})`).join(', ')}. ` +
        'Bytes in use grow by that much per step, and once the free list of their size class is empty the pool creates new buffers, so "new bytes per step" is not 0.',
    );
    if (leaks.has('adamw.norm') || leaks.has('adamw.skipped')) {
      out.push(
        "  Cause: Trainer.trainStep (src/train/trainer.ts) reads the optimiser report (reads.report.read()) but never releases reads.report.norm / .skipped; " +
          "the scope hands them out untracked. Fix: release both after `await optP` in the metrics promise, as it does for the loss tensors.",
      );
    }
  }
  const staging = cases.map((c) => [c, c.createdLabels['readback staging']] as const).filter(([, v]) => v);
  if (staging.length) {
    out.push(
      `- Readback staging buffers created every step: ${staging.map(([c, v]) => `${c.preset} ${c.method} ${(v!.count / c.steps.length).toFixed(0)}/step`).join(', ')} (256 B each, MAP_READ, outside the pool). ` +
        'Cause: Gpu.takeStaging (src/gpu/runtime.ts) reuses a free staging buffer only if `s.size <= size * 4` with the UNROUNDED request (4 bytes for a scalar), while staging buffers are at least 256 bytes, so a scalar read never reuses one and `stagingFree` grows by one buffer per read forever. ' +
        'Fix: compare against the rounded size (`const want = Math.max(256, align(size, 256))`, then `s.size >= want && s.size <= want * 4`).',
    );
  }
  const otherCreated = cases.flatMap((c) => Object.entries(c.createdLabels).filter(([l]) => l !== 'readback staging' && !leaks.has(l)).map(([l, v]) => `${c.preset} ${c.method} '${l}' ×${v.count} (${v.kind})`));
  if (otherCreated.length) out.push(`- Other buffers created in timed steps: ${otherCreated.join(', ')} (pool size classes emptied by the leaks above).`);
  for (const c of cases) {
    if (c.submitCauses['write-hazard']) {
      out.push(
        `- ${c.preset} ${c.method}: ${c.submitCauses['write-hazard']} extra submit(s) per step from uploads into a pooled buffer already used in the batch being recorded (${c.submitLabels['write-hazard']}): ` +
          'Gpu.write flushes first so the earlier use sees the old contents. The buffer was released earlier in the same step and handed back by the pool (LIFO) for a fromArray upload.',
      );
    }
  }
  const clean = cases.filter((c) => c.newBytesPerStep === 0 && c.leakedBytesPerStep === 0 && Object.keys(c.createdLabels).length === 0);
  if (clean.length) out.push(`- Steady state (no GPU buffer created, nothing leaked, in any timed step): ${clean.map((c) => `${c.preset} ${c.method}`).join(', ')}.`);
  const reads = cases.map((c) => `${c.preset} ${c.method} ${c.readbacks}`);
  out.push(`- Readbacks per step (each one a submit and a mapAsync): ${reads.join(', ')}.`);
  return out;
}

export function analyse(r: TrainBenchReport): string[] {
  const out: string[] = [];
  for (const row of r.ratios) {
    const sft = r.cases.find((c) => c.preset === row.preset && c.method === 'sft')!;
    const soar = r.cases.find((c) => c.preset === row.preset && c.method === 'soar')!;
    const verdict = (x: number) => {
      const d = x / row.predictedFlops - 1;
      return `${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)}%`;
    };
    const within = Math.abs(row.deviation) <= 0.15 ? 'within' : 'outside';
    const load = soar.hostLoad ? ` Host load average (1 min) ${soar.hostLoad.start[0].toFixed(1)} → ${soar.hostLoad.end[0].toFixed(1)}: SwiftShader runs on the CPU and shares it with every other process.` : '';
    out.push(
      `### ${row.preset}`,
      '',
      `SOAR/SFT measured ${row.measured.toFixed(2)} (median GPU time; wall ${row.measuredWall.toFixed(2)}), predicted from FLOPs ${row.predictedFlops.toFixed(2)} ` +
        `(${(soar.flops / 1e9).toFixed(3)} vs ${(sft.flops / 1e9).toFixed(3)} GFLOP, src/model/flops.ts): ${verdict(row.measured)}, ${within} the 15% target. ` +
        `Fastest steps: ${row.measuredMin.toFixed(2)} (${verdict(row.measuredMin)})${row.profiled !== null ? `; profiled kernel time: ${row.profiled.toFixed(2)} (${verdict(row.profiled)})` : ''}. ` +
        `Dispatches ${soar.dispatches} vs ${sft.dispatches} (×${(soar.dispatches / sft.dispatches).toFixed(2)}).${load}`,
      '',
      ...gap(sft, soar, row.predictedFlops),
      '',
    );
  }
  const checks = r.cases.map((c) => {
    const d = c.counted.gemmAttention / c.counted.analyticGemmAttention - 1;
    return `${c.preset} ${c.method} ${(c.counted.gemmAttention / 1e9).toFixed(4)} vs ${(c.counted.analyticGemmAttention / 1e9).toFixed(4)} GFLOP (${(100 * d).toFixed(2)}%)`;
  });
  out.push('### FLOP cross-check', '', `GEMM + attention FLOPs counted from the dispatches vs src/model/flops.ts (linear + lora + attention): ${checks.join('; ')}. The difference is the attention backward's rowdot, which the dispatch count leaves out.`, '');
  const rec = r.cases.map((c) => `${c.preset} ${c.method} ${c.recordMs.toFixed(0)} ms for ${c.dispatches} dispatches = ${((1000 * c.recordMs) / c.dispatches).toFixed(0)} µs each (${((1000 * c.dispatchCpuMs) / c.dispatches).toFixed(0)} µs inside Gpu.dispatch)`);
  out.push(
    '### CPU recording',
    '',
    `Recording a step (Trainer.trainStep until it resolves): ${rec.join('; ')}. ` +
      'Trainer.run records the next step while the GPU runs the current one, so a step costs max(recording, GPU time): on a GPU that executes the step faster than it is recorded, ' +
      'the step is CPU-bound and SOAR/SFT tends to the dispatch ratio, not the FLOP ratio.',
    '',
  );
  const alloc = allocationFindings(r.cases);
  if (alloc.length) out.push('### Allocations, submits, readbacks', '', ...alloc, '');
  return out;
}
