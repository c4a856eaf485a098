/**
 * The names one Ratchet installation uses on its transport, all under one prefix so that
 * installations (and test files) sharing a NATS server never see each other's messages.
 */
export interface Subjects {
  readonly prefix: string;
  /** Engine commands (request/reply, queue group `engine`). */
  readonly commands: string;
  /** Work-queue subject of `AdvanceJob` tasks. */
  readonly tasks: string;
  /** The JetStream stream (and work queue) holding tasks. */
  readonly taskStream: string;
  /** Where workers announce their workflows. */
  readonly announcements: string;
  /** An engine that starts asks here for every worker to announce itself at once. */
  readonly rollCall: string;
  /** Published once when a job completes or fails. */
  finished(jobId: string): string;
  /**
   * The commands of one engine alone (beside the queue group's): a worker sends a job's next
   * appends to the engine that carried out its last, whose cached fold of the job is current.
   */
  engine(engineId: string): string;
}

/**
 * What a prefix may be: 1-64 lowercase letters, digits and `-`. The task stream's name is the
 * prefix in upper case with `_` for `-` (JetStream stream names are conventionally upper case, and
 * `RATCHET_TASKS` is what installations already have), so a prefix with capitals or `_` could name
 * the same stream as another one (`rvtest` and `RVTEST`, `a-b` and `a_b`), and one installation
 * would take the other's stream over.
 */
const PREFIX = /^[a-z0-9-]{1,64}$/;

/** Why `prefix` cannot be a subject prefix, or undefined if it can. `what` names it (`RATCHET_PREFIX`). */
export function prefixProblem(prefix: unknown, what = 'prefix'): string | undefined {
  if (typeof prefix === 'string' && PREFIX.test(prefix)) return undefined;
  const shown = typeof prefix === 'string' ? JSON.stringify(prefix) : String(prefix);
  return `${what} ${shown} must be 1-64 lowercase letters, digits or '-' (the task stream is named after it in upper case with '_' for '-', so prefixes differing only in case or in '-'/'_' would share one stream)`;
}

/** Builds the {@link Subjects} for `prefix` (1-64 lowercase letters, digits and `-`). */
export function subjectsFor(prefix = 'ratchet'): Subjects {
  const problem = prefixProblem(prefix);
  if (problem !== undefined) throw new RangeError(problem);
  return {
    prefix,
    commands: `${prefix}.engine.commands`,
    tasks: `${prefix}.tasks.advance`,
    taskStream: `${prefix.replace(/-/g, '_').toUpperCase()}_TASKS`,
    announcements: `${prefix}.workers.announce`,
    rollCall: `${prefix}.workers.roll-call`,
    finished: (jobId) => `${prefix}.jobs.${jobId}.finished`,
    engine: (engineId) => `${prefix}.engines.${engineId}.commands`,
  };
}
