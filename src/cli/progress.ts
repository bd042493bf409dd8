// A terminal progress bar with rate and ETA, redrawn in place on a TTY and otherwise printed every 10% or every
// minute, whichever comes first (CI logs stay short, a long run's log still moves).

/** Off a terminal: the longest silence between progress lines. */
const LOG_EVERY_MS = 60_000;

export class ProgressBar {
  private start = performance.now();
  private lastPrinted = -1;
  private lastPrintedAt = 0;

  constructor(
    private readonly total: number,
    private readonly label: string,
    /** Work already done before this bar started (a resumed run): excluded from the rate. */
    private readonly startAt = 0,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, extra = ''): void {
    const frac = this.total ? Math.min(1, done / this.total) : 1;
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = (done - this.startAt) / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const width = 28;
    const filled = Math.round(frac * width);
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${rate.toFixed(2)} it/s ETA ${fmtTime(eta)}${extra ? '  ' + extra : ''}`;
    if (this.out.isTTY) {
      this.out.write(`\r${line.slice(0, (this.out.columns ?? 120) - 1)}\x1b[K`);
      if (done >= this.total) this.out.write('\n');
    } else {
      const pct = Math.floor(frac * 10);
      const now = performance.now();
      if (pct !== this.lastPrinted || done >= this.total || now - this.lastPrintedAt > LOG_EVERY_MS) {
        this.lastPrinted = pct;
        this.lastPrintedAt = now;
        this.out.write(line + '\n');
      }
    }
  }
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** What a training progress line shows after the bar: the losses and the step's GFLOP/s (analytic FLOPs / wall). */
export function stepLine(m: { loss: number; loss_aux?: number | null; reward_mean?: number | boolean | null; gflops?: number }, more = ''): string {
  const rate = m.gflops ? `  ${m.gflops.toFixed(2)} GFLOP/s` : '';
  return `loss ${m.loss.toFixed(4)}${typeof m.loss_aux === 'number' ? ` aux ${m.loss_aux.toFixed(4)}` : ''}${typeof m.reward_mean === 'number' ? ` reward ${m.reward_mean.toFixed(3)}` : ''}${more ? ' ' + more : ''}${rate}`;
}
