/**
 * A one-line progress bar on stderr when it is a terminal; silent otherwise, so piped output and
 * CI logs stay clean. Redraws at most every 100 ms.
 */
export class ProgressBar {
  private lastDraw = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, detail = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    process.stderr.write(
      `\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${detail}`,
    );
  }

  finish(detail = ''): void {
    if (!this.tty) return;
    this.update(this.total, detail);
    process.stderr.write('\n');
  }
}
