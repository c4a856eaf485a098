import { emptyJobState, type Failure, type JobEvent, type RecordedEvent, toJsonText } from '@ratchet/protocol';
import { timelineRow } from './timeline.ts';

/** Which events `formatHistory` shows (all when unset); times still count from every event. */
export interface HistoryFilter {
  readonly step?: string;
  readonly type?: string;
}

/** How an attempt ran, gathered from its StepStarted for the lines of its end. */
interface AttemptRun {
  readonly startedAt: number;
  readonly worker: string;
  readonly epoch: number;
}

/**
 * A job's history as a person reads it (`ratchet history`): a header naming the job (and, for
 * a fork, where its copied prefix came from), then one line per event with the time since the
 * job started and since the previous event; for each attempt the worker and epoch it ran
 * under and how long it took; a failure's error with its stack and causes; a retry's instant
 * and how long after the failure it comes. One pass over the events, no fold: a 10,000-event
 * history renders in a few milliseconds.
 */
export function formatHistory(jobId: string, events: readonly RecordedEvent[], filter: HistoryFilter = {}): string {
  const first = events[0];
  if (first?.event.type !== 'JobStarted') return `job ${jobId} has no history`;
  const lines = header(jobId, events);
  lines.push('', `${'seq'.padStart(6)}  ${'since start'.padStart(11)}  ${'since prev'.padStart(10)}  event`);
  const names = new Map<number, string>();
  const attempts = new Map<string, AttemptRun>();
  const failedAt = new Map<number, number>();
  let startedAt = first.event.startedAt;
  let previous = startedAt;
  let copiedUntil = 0;
  let matched = 0;
  const stepNames = new Set<string>();
  // The rows of timeline() name the events this text does not describe itself; they need no fold.
  const noFold = emptyJobState(jobId);
  for (const recorded of events) {
    const { seq, event } = recorded;
    if (event.type === 'JobStarted') {
      // A new run (or the first) resets what positions mean.
      names.clear();
      attempts.clear();
      failedAt.clear();
      startedAt = event.startedAt;
      if (seq > 1) lines.push(`${''.padStart(6)}  -- a new run of the job starts --`);
      copiedUntil = event.forkedFrom && event.forkedFrom.events > 0 ? seq + event.forkedFrom.events : 0;
    }
    if (event.type === 'StepStarted' || event.type === 'StepBlocked') {
      names.set(event.stepId, event.name);
      stepNames.add(event.name);
    }
    // Copied events keep their source's times; one that records none takes the one before it.
    const copied = seq > 1 && seq <= copiedUntil;
    const at = eventTime(recorded) ?? (copied ? previous : recorded.recordedAt);
    const step = 'stepId' in event ? (names.get(event.stepId) ?? `#${event.stepId}`) : undefined;
    const shown = (filter.step === undefined || step === filter.step) && (filter.type === undefined || event.type === filter.type);
    const detail = describe(event, { step, attempts, failedAt, at, fallback: () => timelineRow(recorded, noFold).detail });
    if (shown) {
      matched += 1;
      if (seq === 2 && copiedUntil > 1) lines.push(`${''.padStart(6)}  -- copied from the source job, as recorded there --`);
      lines.push(
        `${String(seq).padStart(6)}  ${duration(at - startedAt).padStart(11)}  ${duration(at - previous).padStart(10)}  ${event.type.padEnd(18)}  ${detail.text}`.trimEnd(),
      );
      for (const extra of detail.more) lines.push(`${''.padStart(6 + 2 + 11 + 2 + 10 + 2 + 18 + 2)}${extra}`);
      if (seq === copiedUntil) lines.push(`${''.padStart(6)}  -- the fork runs from here --`);
    }
    previous = at;
  }
  if (matched === 0 && (filter.step !== undefined || filter.type !== undefined)) lines.push(noMatch(filter, stepNames));
  return lines.join('\n');
}

/** Says that a filter left nothing to show, and why when its step is not one of the job's (a misspelt name). */
function noMatch(filter: HistoryFilter, steps: ReadonlySet<string>): string {
  const events = filter.type === undefined ? 'events' : `${filter.type} events`;
  if (filter.step === undefined) return `${''.padStart(6)}  (no ${events})`;
  const known = steps.has(filter.step) ? '' : `: the job has no step "${filter.step}" (its steps: ${[...steps].join(', ') || 'none'})`;
  return `${''.padStart(6)}  (no ${events} of step "${filter.step}"${known})`;
}

function header(jobId: string, events: readonly RecordedEvent[]): string[] {
  const started = events.findLast((e) => e.event.type === 'JobStarted')?.event as Extract<JobEvent, { type: 'JobStarted' }>;
  const last = events.at(-1) as RecordedEvent;
  const lines = [
    `job ${jobId}  workflow ${started.workflow}${started.version ? ` v${started.version}` : ''}  started ${iso(started.startedAt)}  ${events.length} event${events.length === 1 ? '' : 's'}`,
  ];
  const end = last.event;
  if (end.type === 'JobCompleted' || end.type === 'JobFailed' || end.type === 'JobCancelled' || end.type === 'JobContinued') {
    lines.push(`${end.type.replace('Job', '').toLowerCase()} after ${duration((eventTime(last) ?? last.recordedAt) - started.startedAt)}`);
  }
  const fork = started.forkedFrom;
  if (fork) {
    const outputs = fork.outputs ? `; results replaced: ${Object.keys(fork.outputs).join(', ')}` : '';
    const copied =
      fork.events === 0 ? 'nothing is copied' : `its first ${fork.events} journal event${fork.events === 1 ? ' is' : 's are'} copied`;
    lines.push(`forked from job ${fork.jobId} at its seq ${fork.seq}: ${copied}, step "${fork.step}" runs again${outputs}`);
  }
  return lines;
}

interface Context {
  readonly step: string | undefined;
  readonly attempts: Map<string, AttemptRun>;
  readonly failedAt: Map<number, number>;
  /** When the event happened (see eventTime). */
  readonly at: number;
  /** The timeline's own words for an event this text does not describe itself. */
  readonly fallback: () => string | undefined;
}

function describe(event: JobEvent, c: Context): { text: string; more: string[] } {
  switch (event.type) {
    case 'JobStarted':
      return { text: `workflow ${event.workflow}${event.version ? ` v${event.version}` : ''}, input ${preview(event.input)}`, more: [] };
    case 'StepStarted': {
      c.attempts.set(`${event.stepId}:${event.attempt}`, { startedAt: event.startedAt, worker: event.worker, epoch: event.epoch });
      const limits = [
        event.timeoutMs === undefined ? '' : `timeout ${duration(event.timeoutMs)}`,
        event.breaker === undefined ? '' : `breaker ${event.breaker}${event.probe ? ' (probe)' : ''}`,
      ].filter(Boolean);
      return { text: [`${c.step} #${event.attempt}`, `worker ${event.worker}`, `epoch ${event.epoch}`, ...limits].join('  '), more: [] };
    }
    case 'StepCompleted':
      return {
        text: [
          `${c.step} #${event.attempt}`,
          ...ran(c, event.stepId, event.attempt, event.completedAt),
          `output ${preview(event.output)}`,
        ].join('  '),
        more: [],
      };
    case 'StepFailed': {
      c.failedAt.set(event.stepId, event.failedAt);
      const verdict = event.final ? `gave up: ${event.reason ?? 'final'}` : 'will retry';
      return {
        text: [`${c.step} #${event.attempt}`, ...ran(c, event.stepId, event.attempt, event.failedAt), verdict].join('  '),
        more: failureLines(event.failure),
      };
    }
    case 'StepRetryScheduled': {
      const failed = c.failedAt.get(event.stepId) ?? c.at;
      const how = event.durable ? 'durable timer' : 'waited out by the worker';
      return {
        text: `${c.step} #${event.attempt}  at ${iso(event.at)}, ${duration(event.at - failed)} after the failure (${how})`,
        more: [],
      };
    }
    case 'StepBlocked':
      return { text: `${c.step} #${event.attempt}  ${c.fallback() ?? ''}`, more: [] };
    case 'TimerStarted':
      return { text: `sleep until ${iso(event.fireAt)} (${duration(event.fireAt - c.at)})`, more: [] };
    case 'ChildFinished':
    case 'JobFailed':
      return { text: c.fallback() ?? '', more: event.failure ? failureLines(event.failure) : [] };
    default:
      return { text: c.fallback() ?? '', more: [] };
  }
}

/** How long an attempt took, and where it ran. */
function ran(c: Context, stepId: number, attempt: number, endedAt: number): string[] {
  const run = c.attempts.get(`${stepId}:${attempt}`);
  return run ? [`took ${duration(endedAt - run.startedAt)}`, `worker ${run.worker}`, `epoch ${run.epoch}`] : [];
}

const INTERNAL_FRAME = /node:internal|\/(worker|sdk|protocol|engine)\/src\/|\/node_modules\//;

/** The error, its stack frames and its causes, a line each. */
function failureLines(failure: Failure, depth = 0): string[] {
  const lead = depth === 0 ? 'error ' : 'caused by ';
  const lines = [`${lead}${failure.name}: ${failure.message}`];
  const all = (failure.stack ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('at '));
  // The frames of the code that failed; Ratchet's and Node's own say nothing about the error.
  const own = all.filter((frame) => !INTERNAL_FRAME.test(frame));
  // Only Ratchet's frames, and a cause follows: the cause's frames are the ones to read.
  const frames = own.length > 0 ? own : failure.cause ? [] : all;
  lines.push(...frames.slice(0, 12).map((frame) => `    ${frame}`));
  if (frames.length > 12) lines.push(`    ... ${frames.length - 12} more`);
  if (failure.cause && depth < 5) lines.push(...failureLines(failure.cause, depth + 1));
  return lines;
}

/** When the event happened, if it records that itself. */
function eventTime({ event }: RecordedEvent): number | undefined {
  switch (event.type) {
    case 'JobStarted':
    case 'StepStarted':
      return event.startedAt;
    case 'JobClaimed':
      return event.claimedAt;
    case 'JobReleased':
      return event.releasedAt;
    case 'StepBlocked':
      return event.blockedAt;
    case 'StepCompleted':
    case 'JobCompleted':
      return event.completedAt;
    case 'StepFailed':
    case 'JobFailed':
      return event.failedAt;
    case 'TimerFired':
      return event.firedAt;
    case 'SignalReceived':
      return event.receivedAt;
    case 'WaitEnded':
      return event.endedAt;
    case 'CancelRequested':
      return event.requestedAt;
    case 'ChildFinished':
      return event.finishedAt;
    case 'HistoryWarned':
      return event.warnedAt;
    case 'JobCancelled':
      return event.cancelledAt;
    case 'JobContinued':
      return event.continuedAt;
    default:
      return undefined;
  }
}

/** `840 ms`, `12.5 s`, `3m 05s`, `2h 10m`, `3d 4h`; negative for what happened before the start. */
export function duration(ms: number): string {
  if (ms < 0) return `-${duration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function preview(value: unknown): string {
  const text = toJsonText(value) ?? 'undefined';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
