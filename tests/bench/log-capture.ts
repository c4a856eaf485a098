import { type Logger, pino } from 'pino';

/** Log lines at warn or above seen during a workload, from in-process loggers and child processes. */
export class LogCapture {
  readonly lines: string[] = [];
  readonly #limit: number;
  #dropped = 0;

  constructor(limit = 50) {
    this.#limit = limit;
  }

  /** Records a line (kept up to a limit, counted always) and echoes it to stderr. */
  record(source: string, line: string): void {
    if (this.lines.length < this.#limit) this.lines.push(`${source}: ${line}`);
    else this.#dropped++;
    process.stderr.write(`  [${source}] ${line}\n`);
  }

  get count(): number {
    return this.lines.length + this.#dropped;
  }

  /** The lines as problems for the report, each cut to 300 characters, with a count of those not kept. */
  problems(): string[] {
    const kept = this.lines.map((line) => `log: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
    return this.#dropped > 0 ? [...kept, `log: … and ${this.#dropped} more lines at warn or above`] : kept;
  }

  /** A pino logger at warn that writes into this capture (and so to stderr, never stdout). */
  logger(source: string): Logger {
    return pino({ level: 'warn' }, { write: (text: string) => this.record(source, text.trimEnd()) });
  }
}
