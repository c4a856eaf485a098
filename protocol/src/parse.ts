import type { EngineCommand } from './commands.ts';
import type { JobEvent } from './events.ts';
import { jobIdProblem } from './ids.ts';
import type { AdvanceJob } from './tasks.ts';

/** A message that is not a well-formed command, event or task; the message names the field. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
}

/**
 * `count`: an integer >= 0 (seqs, epochs, attempts, positions); `time`: ms since the epoch within
 * the range both JavaScript and Postgres can hold; `text`: a string without NUL (Postgres text
 * cannot hold one); `name`: a workflow name; `policy`: a resolved retry policy.
 */
type Kind = 'text' | 'count' | 'time' | 'number' | 'boolean' | 'object' | 'array' | 'any' | 'jobId' | 'name' | 'policy';
type Shape = Readonly<Record<string, Kind | `${Kind}?`>>;

/** The latest instant a time in the log may name (JavaScript's Date limit, year 275760). */
export const MAX_TIME_MS = 8.64e15;

const COMMANDS: Readonly<Record<EngineCommand['type'], Shape>> = {
  StartJob: {
    workflow: 'name',
    input: 'any',
    jobId: 'jobId?',
    version: 'text?',
    onExisting: 'text?',
    parent: 'object?',
    timeoutMs: 'count?',
    freshId: 'boolean?',
  },
  AppendEvents: { jobId: 'jobId', expectedSeq: 'count', epoch: 'count', events: 'array' },
  // Its appends are parsed one by one when carried out, so that a bad one fails alone.
  AppendBatch: { appends: 'array' },
  ReadHistory: { jobId: 'jobId', afterSeq: 'count', asState: 'boolean?' },
  GetJob: { jobId: 'jobId' },
  ClaimJob: { jobId: 'jobId', epoch: 'count', worker: 'text' },
  ReleaseJob: { jobId: 'jobId', epoch: 'count', worker: 'text', reason: 'text' },
  SignalJob: { jobId: 'jobId', name: 'text', payload: 'any' },
  CancelJob: { jobId: 'jobId', reason: 'text', terminate: 'boolean' },
  DescribeJob: { jobId: 'jobId' },
  AcquireBreaker: { name: 'text', policy: 'object' },
  ControlBreaker: { op: 'text', name: 'text?', forMs: 'count?' },
  ListJobs: { status: 'text', workflow: 'text?', afterJobId: 'text?', limit: 'count?' },
  ForkJob: { jobId: 'jobId', from: 'text', setOutputs: 'object?', forkJobId: 'jobId?', version: 'text?' },
};

const EVENTS: Readonly<Record<JobEvent['type'], Shape>> = {
  JobStarted: {
    workflow: 'name',
    version: 'text',
    input: 'any',
    epoch: 'count',
    startedAt: 'time',
    parent: 'object?',
    deadline: 'time?',
    forkedFrom: 'object?',
  },
  HistoryWarned: { limit: 'count', warnedAt: 'time' },
  JobClaimed: { epoch: 'count', worker: 'text', claimedAt: 'time' },
  JobReleased: { epoch: 'count', worker: 'text', reason: 'text', releasedAt: 'time' },
  StepStarted: {
    stepId: 'count',
    name: 'text',
    attempt: 'count',
    startedAt: 'time',
    worker: 'text',
    epoch: 'count',
    policy: 'policy?',
    timeoutMs: 'count?',
    heartbeatTimeoutMs: 'count?',
    breaker: 'text?',
    probe: 'boolean?',
  },
  StepBlocked: {
    stepId: 'count',
    name: 'text',
    attempt: 'count',
    breaker: 'text',
    until: 'time',
    fail: 'boolean',
    blockedAt: 'time',
    policy: 'policy?',
    timeoutMs: 'count?',
    heartbeatTimeoutMs: 'count?',
  },
  StepCompleted: { stepId: 'count', attempt: 'count', output: 'any', completedAt: 'time' },
  StepFailed: {
    stepId: 'count',
    attempt: 'count',
    failure: 'object',
    failedAt: 'time',
    final: 'boolean',
    reason: 'text?',
    heartbeat: 'any?',
  },
  StepRetryScheduled: { stepId: 'count', attempt: 'count', at: 'time', durable: 'boolean' },
  TimerStarted: { position: 'count', fireAt: 'time' },
  TimerFired: { timerId: 'text', epoch: 'count', firedAt: 'time' },
  ValueRecorded: { position: 'count', kind: 'text', value: 'any' },
  SignalReceived: { signalId: 'text', name: 'text', payload: 'any', receivedAt: 'time' },
  WaitStarted: { position: 'count', name: 'text', timeoutAt: 'time?' },
  WaitEnded: { position: 'count', signalId: 'text?', endedAt: 'time' },
  CancelRequested: { reason: 'text', requestedAt: 'time' },
  CancelDelivered: { position: 'count' },
  ChildStarted: { position: 'count', childJobId: 'jobId', workflow: 'name', input: 'any', cancelWithParent: 'boolean' },
  ChildFinished: { position: 'count', childJobId: 'jobId', status: 'text', output: 'any', failure: 'object?', finishedAt: 'time' },
  JobCompleted: { output: 'any', completedAt: 'time' },
  JobFailed: { failure: 'object', failedAt: 'time' },
  JobCancelled: { reason: 'text', terminated: 'boolean', cancelledAt: 'time' },
  JobContinued: { input: 'any', continuedAt: 'time', nextJobId: 'jobId?' },
};

/** Checks that `value` is an engine command; throws {@link InvalidMessageError} naming the problem. */
export function parseCommand(value: unknown): EngineCommand {
  const command = checkTyped(value, COMMANDS, 'command');
  if (command.type === 'StartJob' && command.parent !== undefined) {
    const parent = command.parent as Record<string, unknown>;
    const problem = jobIdProblem(parent.jobId) ?? (Number.isSafeInteger(parent.position) ? undefined : 'position must be an integer');
    if (problem) throw new InvalidMessageError(`command StartJob.parent ${problem}`);
  }
  if (
    command.type === 'StartJob' &&
    command.onExisting !== undefined &&
    command.onExisting !== 'attach' &&
    command.onExisting !== 'reject' &&
    command.onExisting !== 'new-run-if-failed'
  ) {
    throw new InvalidMessageError(
      `command StartJob.onExisting must be "attach", "reject" or "new-run-if-failed", got ${JSON.stringify(command.onExisting)}`,
    );
  }
  if (command.type === 'ForkJob' && (command.from as string).length === 0) {
    throw new InvalidMessageError('command ForkJob.from must name a step');
  }
  if (command.type === 'AppendEvents') {
    const events = command.events as unknown[];
    for (let i = 0; i < events.length; i++) parseEvent(events[i], `events[${i}]`);
  }
  return command as unknown as EngineCommand;
}

/** Every event type, in the order of the union (keys of a record over the union: a new type must be added). */
export const EVENT_TYPES: readonly JobEvent['type'][] = Object.keys(EVENTS) as JobEvent['type'][];

/** Checks that `value` is a job event; throws {@link InvalidMessageError} naming the problem. */
export function parseEvent(value: unknown, label = 'event'): JobEvent {
  return checkTyped(value, EVENTS, label) as unknown as JobEvent;
}

/** Checks that `value` is an `AdvanceJob` task. */
export function parseTask(value: unknown): AdvanceJob {
  return checkTyped(
    value,
    { AdvanceJob: { jobId: 'jobId', epoch: 'count', history: 'array?', seq: 'count?' } },
    'task',
  ) as unknown as AdvanceJob;
}

function checkTyped(value: unknown, shapes: Readonly<Record<string, Shape>>, label: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidMessageError(`${label} must be an object, got ${value === null ? 'null' : typeof value}`);
  }
  const record = value as Record<string, unknown>;
  const type = record.type;
  const shape = typeof type === 'string' && Object.hasOwn(shapes, type) ? shapes[type] : undefined;
  if (!shape) {
    throw new InvalidMessageError(`${label} has unknown type ${JSON.stringify(type)}; expected one of ${Object.keys(shapes).join(', ')}`);
  }
  for (const [field, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const kind = (optional ? spec.slice(0, -1) : spec) as Kind;
    const actual = record[field];
    if (actual === undefined) {
      if (optional || kind === 'any') continue;
      throw new InvalidMessageError(`${label} ${type} is missing ${field}`);
    }
    const problem = kindProblem(kind, actual);
    if (problem) throw new InvalidMessageError(`${label} ${type}.${field} ${problem}`);
  }
  return record;
}

function kindProblem(kind: Kind, value: unknown): string | undefined {
  switch (kind) {
    case 'any':
      return undefined;
    case 'jobId':
      return jobIdProblem(value);
    case 'name':
      return typeof value === 'string' && WORKFLOW_NAME.test(value)
        ? undefined
        : `must be a workflow name (1-128 letters, digits, . _ or -), got ${JSON.stringify(value)}`;
    case 'text':
      if (typeof value !== 'string') return `must be a string, got ${typeof value}`;
      return value.includes('\0') ? 'must not contain a NUL character' : undefined;
    case 'array':
      return Array.isArray(value) ? undefined : `must be an array, got ${typeof value}`;
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : 'must be an object';
    case 'policy':
      return policyProblem(value);
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : `must be an integer >= 0, got ${String(value)}`;
    case 'time':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_TIME_MS
        ? undefined
        : `must be a time in ms between 0 and ${MAX_TIME_MS}, got ${String(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `must be a finite number, got ${String(value)}`;
    default:
      return typeof value === kind ? undefined : `must be a ${kind}, got ${typeof value}`;
  }
}

/** The pattern of a workflow name (also enforced by `defineWorkflow`). */
export const WORKFLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Why `value` is not a resolved retry policy (every field present and in range), or undefined. */
function policyProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'must be a retry policy';
  const p = value as Record<string, unknown>;
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!positive(p.initialIntervalMs) || !positive(p.maximumIntervalMs)) return 'must have interval ms >= 0';
  if (!(typeof p.backoffCoefficient === 'number' && p.backoffCoefficient >= 1)) return 'must have backoffCoefficient >= 1';
  if (!(Number.isSafeInteger(p.maximumAttempts) && (p.maximumAttempts as number) >= 1)) return 'must have maximumAttempts >= 1';
  if (p.jitter !== 'none' && p.jitter !== 'full' && p.jitter !== 'equal') return 'must have jitter none, full or equal';
  if (!Array.isArray(p.nonRetryable) || p.nonRetryable.some((n) => typeof n !== 'string')) return 'must have nonRetryable names';
  if (p.deadlineMs !== undefined && !positive(p.deadlineMs)) return 'must have deadlineMs >= 0';
  if (p.rules !== undefined) {
    if (!Array.isArray(p.rules)) return 'must have rules as an array';
    for (const rule of p.rules as Record<string, unknown>[]) {
      if (!Array.isArray(rule?.errors) || typeof rule.retry !== 'boolean') return 'must have rules with errors and retry';
      const problem = policyProblem({ ...rule, jitter: 'none', nonRetryable: [] });
      if (problem) return `must have valid rules: ${problem}`;
    }
  }
  return undefined;
}
