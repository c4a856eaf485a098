import type { RecordedEvent } from './events.ts';

/** A task on the work queue: advance this job, under this epoch. */
export interface AdvanceJob {
  readonly type: 'AdvanceJob';
  readonly jobId: string;
  readonly epoch: number;
  /**
   * The job's whole log when it is short (a job just started): the worker then starts at once,
   * without reading the history first. Omitted when large.
   */
  readonly history?: readonly RecordedEvent[];
  /**
   * The job's last seq when dispatched again at the same epoch (woken by a signal or a
   * cancellation), so that this task is not taken for a repeat of the earlier one.
   */
  readonly seq?: number;
}

/** The deduplication id of a task: one per job and epoch, so a republish is dropped. */
export function taskMessageId(task: AdvanceJob): string {
  return task.seq === undefined ? `${task.jobId}:${task.epoch}` : `${task.jobId}:${task.epoch}:${task.seq}`;
}
