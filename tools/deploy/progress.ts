/**
 * One status line per environment. On a terminal the lines are redrawn in place as work proceeds, with the
 * time spent so far; elsewhere (CI logs) each environment's line is printed once, when it is final.
 * One instance per phase (plans, then applies).
 */
export class Progress {
  private readonly lines = new Map<string, { text: string; start: number; end?: number }>();
  private readonly width: number;
  private drawn = 0;
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly out: NodeJS.WriteStream,
    names: readonly string[],
    initial: string,
  ) {
    this.width = Math.max(...names.map((n) => n.length));
    const now = Date.now();
    for (const name of names) this.lines.set(name, { text: initial, start: now });
    if (out.isTTY) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
      this.draw();
    }
  }

  /** The environment's current step (`planning`, `applying (3 done)`). */
  update(name: string, text: string): void {
    this.line(name).text = text;
    if (this.out.isTTY) this.draw();
  }

  /** The environment's final line. */
  finish(name: string, text: string): void {
    const line = this.line(name);
    line.text = text;
    line.end = Date.now();
    if (this.out.isTTY) this.draw();
    else this.out.write(`${this.format(name)}\n`);
  }

  /** Draws the final state and stops the clock. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.out.isTTY) this.draw();
  }

  private line(name: string) {
    const line = this.lines.get(name);
    if (!line) throw new Error(`progress: no line for environment "${name}"`);
    return line;
  }

  private format(name: string): string {
    const { text, start, end } = this.line(name);
    const seconds = (((end ?? Date.now()) - start) / 1000).toFixed(1);
    return `${name.padEnd(this.width)}  ${text}${end === undefined ? "…" : ""}  ${seconds} s`;
  }

  private draw(): void {
    const up = this.drawn ? `\x1b[${this.drawn}A` : "";
    const text = [...this.lines.keys()].map((name) => `\x1b[2K${this.format(name)}\n`).join("");
    this.out.write(`${up}${text}`);
    this.drawn = this.lines.size;
  }
}
