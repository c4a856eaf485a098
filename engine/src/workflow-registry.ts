/**
 * Which workflows the running workers can run, from their announcements. It only refuses a
 * start when workers are known and none of them has the workflow: with no worker announced
 * yet, jobs are accepted and wait for one.
 */
export class WorkflowRegistry {
  readonly #seen = new Map<string, { workflows: readonly string[]; at: number }>();
  readonly #ttlMs: number;
  readonly #clock: () => number;

  constructor(options: { ttlMs: number; clock: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
  }

  announce(worker: string, workflows: readonly string[]): void {
    this.#seen.set(worker, { workflows, at: this.#clock() });
  }

  /** The workflows of live workers, or undefined when no worker has announced itself lately. */
  known(): ReadonlySet<string> | undefined {
    const cutoff = this.#clock() - this.#ttlMs;
    const names = new Set<string>();
    for (const [worker, seen] of this.#seen) {
      if (seen.at < cutoff) this.#seen.delete(worker);
      else for (const name of seen.workflows) names.add(name);
    }
    return this.#seen.size === 0 ? undefined : names;
  }
}
