export { JobRun, type JobRunOptions, type RunOutcome } from './job-run.ts';
export { type ReplayReport, replayHistory } from './replay-history.ts';
export { Worker, type WorkerOptions } from './worker.ts';
