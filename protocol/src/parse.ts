import type { EngineCommand } from './commands.ts';
import type { JobEvent } from './events.ts';
import { jobIdProblem } from './ids.ts';
import type { AdvanceJob } from './tasks.ts';

/** A message that is not a well-formed command, event or task; the message names the field. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
}

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'any' | 'jobId';
type Shape = Readonly<Record<string, Kind | `${Kind}?`>>;

const COMMANDS: Readonly<Record<EngineCommand['type'], Shape>> = {
  StartJob: { workflow: 'string', input: 'any', jobId: 'jobId?', version: 'string?' },
  AppendEvents: { jobId: 'jobId', expectedSeq: 'number', epoch: 'number', events: 'array' },
  ReadHistory: { jobId: 'jobId', afterSeq: 'number' },
  GetJob: { jobId: 'jobId' },
  ClaimJob: { jobId: 'jobId', epoch: 'number', worker: 'string' },
  ReleaseJob: { jobId: 'jobId', epoch: 'number', worker: 'string', reason: 'string' },
};

const EVENTS: Readonly<Record<JobEvent['type'], Shape>> = {
  JobStarted: { workflow: 'string', version: 'string', input: 'any', epoch: 'number', startedAt: 'number' },
  JobClaimed: { epoch: 'number', worker: 'string', claimedAt: 'number' },
  JobReleased: { epoch: 'number', worker: 'string', reason: 'string', releasedAt: 'number' },
  StepStarted: {
    stepId: 'number',
    name: 'string',
    attempt: 'number',
    startedAt: 'number',
    worker: 'string',
    epoch: 'number',
    policy: 'object?',
    timeoutMs: 'number?',
  },
  StepCompleted: { stepId: 'number', attempt: 'number', output: 'any', completedAt: 'number' },
  StepFailed: { stepId: 'number', attempt: 'number', failure: 'object', failedAt: 'number', final: 'boolean', reason: 'string?' },
  StepRetryScheduled: { stepId: 'number', attempt: 'number', at: 'number', durable: 'boolean' },
  TimerStarted: { position: 'number', fireAt: 'number' },
  TimerFired: { timerId: 'string', epoch: 'number', firedAt: 'number' },
  ValueRecorded: { position: 'number', kind: 'string', value: 'any' },
  JobCompleted: { output: 'any', completedAt: 'number' },
  JobFailed: { failure: 'object', failedAt: 'number' },
};

/** Checks that `value` is an engine command; throws {@link InvalidMessageError} naming the problem. */
export function parseCommand(value: unknown): EngineCommand {
  const command = checkTyped(value, COMMANDS, 'command');
  if (command.type === 'AppendEvents') {
    for (const [i, event] of (command.events as unknown[]).entries()) parseEvent(event, `events[${i}]`);
  }
  return command as unknown as EngineCommand;
}

/** Checks that `value` is a job event; throws {@link InvalidMessageError} naming the problem. */
export function parseEvent(value: unknown, label = 'event'): JobEvent {
  return checkTyped(value, EVENTS, label) as unknown as JobEvent;
}

/** Checks that `value` is an `AdvanceJob` task. */
export function parseTask(value: unknown): AdvanceJob {
  return checkTyped(value, { AdvanceJob: { jobId: 'jobId', epoch: 'number', history: 'array?' } }, 'task') as unknown as AdvanceJob;
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
    case 'array':
      return Array.isArray(value) ? undefined : `must be an array, got ${typeof value}`;
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : 'must be an object';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `must be a finite number, got ${String(value)}`;
    default:
      return typeof value === kind ? undefined : `must be a ${kind}, got ${typeof value}`;
  }
}
