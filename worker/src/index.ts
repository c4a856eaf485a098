export { JobRun, type JobRunOptions, type RunOutcome } from './job-run.ts';
export { type ReplayReport, replayHistory } from './replay-history.ts';
export type { AroundAttempt } from './step-runner.ts';
export { Worker, type WorkerOptions } from './worker.ts';
