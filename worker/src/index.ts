export { JobRun, type JobRunOptions, type RunOutcome } from './job-run.ts';
export { Worker, type WorkerOptions } from './worker.ts';
