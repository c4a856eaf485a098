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
}

/** Builds the {@link Subjects} for `prefix` (letters, digits, `_` and `-`). */
export function subjectsFor(prefix = 'ratchet'): Subjects {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
    throw new RangeError(`subject prefix "${prefix}" must be 1-64 letters, digits, _ or -`);
  }
  return {
    prefix,
    commands: `${prefix}.engine.commands`,
    tasks: `${prefix}.tasks.advance`,
    taskStream: `${prefix.replace(/-/g, '_').toUpperCase()}_TASKS`,
    announcements: `${prefix}.workers.announce`,
    rollCall: `${prefix}.workers.roll-call`,
    finished: (jobId) => `${prefix}.jobs.${jobId}.finished`,
  };
}
