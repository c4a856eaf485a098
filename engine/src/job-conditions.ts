import { isFinished, type JobState } from '@ratchet/protocol';
import { Refusal } from './refusal.ts';

/** A worker holds the job: an attempt is open, or a retry is being waited out in a worker. */
export function isHeld(state: JobState): boolean {
  return state.journal.some(
    (entry) => entry.kind === 'step' && (entry.status === 'running' || (entry.status === 'retrying' && entry.retryDurable !== true)),
  );
}

/** An attempt is open: a worker started it, and its end is not in the log. */
export function hasOpenAttempt(state: JobState): boolean {
  return state.journal.some((entry) => entry.kind === 'step' && entry.status === 'running');
}

/**
 * A parked job that has something to do: a signal for one of its open waits, or a cancellation
 * its workflow has not been told of. (A timer coming due is the timer loop's.)
 */
export function needsWake(state: JobState): boolean {
  if (state.cancel && state.cancel.deliveredAt === undefined) return true;
  return state.journal.some(
    (entry) =>
      entry.kind === 'wait' && !entry.ended && state.signals.some((signal) => signal.name === entry.name && signal.takenBy === undefined),
  );
}

/** Refuses a command for a job that does not exist or has finished; `action` leads the message. */
export function expectRunning(state: JobState, action?: string): void {
  const prefix = action ? `${action}: ` : '';
  if (state.status === 'new') throw new Refusal('JobNotFoundError', `${prefix}no job ${state.jobId}`);
  if (isFinished(state)) throw new Refusal('JobFinishedError', `${prefix}job ${state.jobId} has already ${finishedWord(state.status)}`);
}

function finishedWord(status: JobState['status']): string {
  return status === 'cancelled' ? 'been cancelled' : status;
}
