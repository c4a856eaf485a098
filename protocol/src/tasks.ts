/** A task on the work queue: advance this job, under this epoch. */
export interface AdvanceJob {
  readonly type: 'AdvanceJob';
  readonly jobId: string;
  readonly epoch: number;
}

/** The deduplication id of a task: one per job and epoch, so a republish is dropped. */
export function taskMessageId(task: AdvanceJob): string {
  return `${task.jobId}:${task.epoch}`;
}
