import { decideRetry, type JobEvent, type JobState } from '@ratchet/protocol';

/** Who takes a job over; `release` is set when the holder lets go of it, and says why. */
export interface Handover {
  readonly worker: string;
  readonly release?: string;
}

/**
 * Events that move a job to a new epoch: claimed by a new holder, or released by the old one.
 * Attempts left open are recorded as interrupted and retried at once: they count as attempts,
 * but the dependency did not fail, so no backoff applies.
 */
export function takeOver(state: JobState, handover: Handover, now: number): JobEvent[] {
  const epoch = state.epoch + 1;
  const { worker, release } = handover;
  const events: JobEvent[] = [
    release === undefined
      ? { type: 'JobClaimed', epoch, worker, claimedAt: now }
      : { type: 'JobReleased', epoch, worker, reason: release, releasedAt: now },
  ];
  for (const entry of state.journal) {
    const open = entry.kind === 'step' && entry.status === 'running' ? entry.attempts.at(-1) : undefined;
    if (entry.kind !== 'step' || !open) continue;
    const interrupted = `attempt ${open.attempt} of step "${entry.name}" was interrupted: worker ${open.worker} (epoch ${open.epoch})`;
    const failure =
      release === undefined
        ? { name: 'WorkerLostError', message: `${interrupted} stopped before finishing it` }
        : { name: 'WorkerStoppedError', message: `${interrupted} let go of it: ${release}` };
    const stepId = entry.position;
    const decision = decideRetry(entry.policy, {
      jobId: state.jobId,
      stepId,
      attempt: open.attempt,
      failedAt: now,
      failure,
      firstStartedAt: entry.attempts[0]?.startedAt ?? now,
    });
    if (decision.retry) {
      events.push(
        { type: 'StepFailed', stepId, attempt: open.attempt, failure, failedAt: now, final: false },
        { type: 'StepRetryScheduled', stepId, attempt: decision.attempt, at: now, durable: false },
      );
    } else {
      events.push({ type: 'StepFailed', stepId, attempt: open.attempt, failure, failedAt: now, final: true, reason: decision.reason });
    }
  }
  return events;
}
