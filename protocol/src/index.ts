export { assertNever } from './assert-never.ts';
export {
  type BreakerPolicy,
  breakerNameProblem,
  InvalidBreakerPolicyError,
  type ResolvedBreakerPolicy,
  resolveBreakerPolicy,
} from './breaker-policy.ts';
export {
  type Admission,
  admit,
  applyBreakerEvent,
  type BreakerEvent,
  type BreakerState,
  closedBreaker,
  expireProbeLeases,
  foldBreakerEvents,
  probeStarted,
  recordOutcome,
} from './breaker-state.ts';
export { assertEncodable, assertStorable, CodecError, decode, encode, encodeOkReply } from './codec.ts';
export type {
  AcquireBreaker,
  AppendBatch,
  AppendBatchReply,
  AppendEvents,
  AppendEventsReply,
  BreakerAdmission,
  BreakerSummary,
  CancelJob,
  ClaimJob,
  ClaimJobReply,
  CommandReplies,
  ControlBreaker,
  DescribeJob,
  EngineCommand,
  ForkJob,
  ForkJobReply,
  GetJob,
  JobRow,
  JobSummary,
  ListJobs,
  OnExisting,
  ReadHistory,
  ReadHistoryReply,
  ReleaseJob,
  Reply,
  SignalJob,
  StartJob,
  StartJobReply,
  WorkerAnnounced,
} from './commands.ts';
export { jobRowOf } from './commands.ts';
export { type Duration, toMs } from './duration.ts';
export {
  blockTimerId,
  type CancelDelivered,
  type CancelRequested,
  type ChildFinished,
  type ChildStarted,
  DEADLINE_TIMER_ID,
  ENGINE_EVENTS,
  type ForkOrigin,
  type HistoryWarned,
  INBOX_EVENTS,
  type JobCancelled,
  type JobClaimed,
  type JobCompleted,
  type JobContinued,
  type JobEvent,
  type JobFailed,
  type JobReleased,
  type JobStarted,
  type RecordedEvent,
  retryTimerId,
  type SignalReceived,
  type StepBlocked,
  type StepCompleted,
  type StepFailed,
  type StepRetryScheduled,
  type StepStarted,
  sleepTimerId,
  type TimerFired,
  type TimerStarted,
  type ValueKind,
  type ValueRecorded,
  type WaitEnded,
  type WaitStarted,
  waitTimerId,
} from './events.ts';
export { type ExportedHistory, exportHistory, parseExportedHistory } from './exported-history.ts';
export { type Failure, fromFailure, toFailure } from './failure.ts';
export { createIdFactory, type IdFactory, jobIdProblem } from './ids.ts';
export {
  applyEvent,
  type CancelRequest,
  emptyJobState,
  foldEvents,
  IllegalTransitionError,
  isFinished,
  JOB_STATE_FORMAT,
  type JobState,
  type JobStatus,
  type SignalState,
  type TimerState,
} from './job-state.ts';
export type {
  AttemptState,
  CancelState,
  ChildState,
  JournalEntry,
  SleepState,
  StepState,
  ValueState,
  WaitState,
} from './journal-entry.ts';
export { toJsonText } from './json-text.ts';
export { MAX_TIMEOUT_MS, MAX_VALUE_BYTES } from './limits.ts';
export { EVENT_TYPES, InvalidMessageError, MAX_TIME_MS, parseCommand, parseEvent, parseTask, WORKFLOW_NAME } from './parse.ts';
export { backoffDelay, decideRetry, type FailedAttempt, type RetryDecision, seededRandom } from './retry-decision.ts';
export {
  InvalidRetryPolicyError,
  type Jitter,
  type ResolvedRetryPolicy,
  type ResolvedRetryRule,
  type RetryPolicy,
  type RetryRule,
  resolveRetryPolicy,
} from './retry-policy.ts';
export { prefixProblem, type Subjects, subjectsFor } from './subjects.ts';
export { type AdvanceJob, taskMessageId } from './tasks.ts';
export { REAL_TIMERS, type Timers } from './timers.ts';
