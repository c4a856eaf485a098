import type { ChildProcess } from 'node:child_process';

/**
 * What the benchmark must undo: databases, streams, directories (async, last in first out) and
 * child processes (killed with SIGKILL even when the bench process exits without running
 * the async steps, e.g. on an uncaught error).
 */
export class Cleanup {
  readonly #steps: { readonly what: string; readonly run: () => Promise<void> }[] = [];
  readonly #children = new Set<ChildProcess>();
  readonly #onExit = () => {
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  constructor() {
    process.on('exit', this.#onExit);
  }

  /** Registers an undo step; returns a function that runs it now (once) and unregisters it. */
  add(what: string, run: () => Promise<void>): () => Promise<void> {
    const step = { what, run };
    this.#steps.push(step);
    return async () => {
      const index = this.#steps.indexOf(step);
      if (index < 0) return;
      this.#steps.splice(index, 1);
      await run();
    };
  }

  /** Kills `child` with SIGKILL if it is still running when the bench process exits. */
  track(child: ChildProcess): void {
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
  }

  /** Runs every registered step, newest first; a failing step is reported and the rest still run. */
  async runAll(): Promise<void> {
    this.#onExit();
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (error) {
        process.stderr.write(`[bench] cleanup "${step.what}" failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}
