import { assertNever, foldEvents, type JobState, type RecordedEvent, toJsonText } from '@ratchet/protocol';

/** One event as a person reads it: the columns of `ratchet history` and of `ratchet dev`'s live output. */
export interface TimelineRow {
  readonly seq: number;
  readonly time: string;
  readonly type: string;
  readonly step?: string;
  readonly attempt?: number;
  readonly error?: string;
  readonly detail?: string;
}

/** The rows of a job's whole history. */
export function timeline(jobId: string, events: readonly RecordedEvent[]): TimelineRow[] {
  const state = foldEvents(jobId, events);
  return events.map((recorded) => timelineRow(recorded, state));
}

/** Describes one event; `state` (any fold that includes it) supplies step names. */
export function timelineRow({ seq, recordedAt, event }: RecordedEvent, state: JobState): TimelineRow {
  const base = { seq, time: new Date(recordedAt).toISOString(), type: event.type };
  const stepName = (stepId: number) => {
    const entry = state.journal[stepId];
    return entry?.kind === 'step' ? entry.name : `#${stepId}`;
  };
  switch (event.type) {
    case 'JobStarted':
      return {
        ...base,
        detail: `workflow ${event.workflow}${event.version ? ` v${event.version}` : ''}${
          event.forkedFrom ? `, forked from job ${event.forkedFrom.jobId} before step "${event.forkedFrom.step}"` : ''
        }`,
      };
    case 'JobClaimed':
      return { ...base, detail: `epoch ${event.epoch} by ${event.worker}` };
    case 'JobReleased':
      return { ...base, detail: `epoch ${event.epoch}; ${event.worker} let go: ${event.reason}` };
    case 'StepStarted':
      return { ...base, step: event.name, attempt: event.attempt, detail: `worker ${event.worker}, epoch ${event.epoch}` };
    case 'StepCompleted':
      return {
        ...base,
        step: stepName(event.stepId),
        attempt: event.attempt,
        detail: `took ${event.completedAt - startedAt(state, event.stepId, event.attempt)} ms`,
      };
    case 'StepFailed':
      return {
        ...base,
        step: stepName(event.stepId),
        attempt: event.attempt,
        error: `${event.failure.name}: ${event.failure.message}`,
        ...(event.final ? { detail: `gave up: ${event.reason ?? 'final'}` } : {}),
      };
    case 'StepBlocked':
      return {
        ...base,
        step: event.name,
        attempt: event.attempt,
        detail: `breaker "${event.breaker}" open: ${event.fail ? 'failed with CircuitOpenError' : `parked until ${new Date(event.until).toISOString()}`}`,
      };
    case 'StepRetryScheduled':
      return {
        ...base,
        step: stepName(event.stepId),
        attempt: event.attempt,
        detail: `at ${new Date(event.at).toISOString()} (in ${event.at - recordedAt} ms${event.durable ? ', durable timer' : ''})`,
      };
    case 'TimerStarted':
      return { ...base, detail: `sleep until ${new Date(event.fireAt).toISOString()}` };
    case 'TimerFired':
      return { ...base, detail: `${event.timerId}, epoch ${event.epoch}` };
    case 'ValueRecorded':
      return { ...base, detail: `${event.kind} = ${event.value}` };
    case 'SignalReceived':
      return { ...base, detail: `signal "${event.name}" ${preview(event.payload)}` };
    case 'WaitStarted':
      return {
        ...base,
        detail: `wait for signal "${event.name}"${event.timeoutAt === undefined ? '' : ` until ${new Date(event.timeoutAt).toISOString()}`}`,
      };
    case 'WaitEnded':
      return { ...base, detail: event.signalId === undefined ? 'wait timed out' : `took signal ${event.signalId}` };
    case 'CancelRequested':
      return { ...base, detail: `cancel requested: ${event.reason}` };
    case 'CancelDelivered':
      return { ...base, detail: `CancelledError delivered at position ${event.position}` };
    case 'ChildStarted':
      return { ...base, detail: `child job ${event.childJobId} (${event.workflow})` };
    case 'ChildFinished':
      return {
        ...base,
        detail: `child job ${event.childJobId} ${event.status}`,
        ...(event.failure ? { error: `${event.failure.name}: ${event.failure.message}` } : {}),
      };
    case 'HistoryWarned':
      return { ...base, detail: `the log nears its limit of ${event.limit} events: continue as a new job` };
    case 'JobContinued':
      return { ...base, detail: `continued as job ${event.nextJobId ?? '?'}` };
    case 'JobCancelled':
      return { ...base, detail: `${event.terminated ? 'terminated' : 'cancelled'}: ${event.reason}` };
    case 'JobCompleted':
      return { ...base, detail: `output ${preview(event.output)}` };
    case 'JobFailed':
      return { ...base, error: `${event.failure.name}: ${event.failure.message}` };
    default:
      return assertNever(event, 'event');
  }
}

function startedAt(state: JobState, stepId: number, attempt: number): number {
  const entry = state.journal[stepId];
  return entry?.kind === 'step' ? (entry.attempts[attempt - 1]?.startedAt ?? 0) : 0;
}

function preview(value: unknown): string {
  const text = toJsonText(value) ?? 'undefined';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Renders rows as an aligned text table. */
export function formatTimeline(rows: readonly TimelineRow[]): string {
  const header = ['seq', 'time', 'type', 'step', 'attempt', 'error / detail'];
  const cells = rows.map((r) => [
    String(r.seq),
    r.time,
    r.type,
    r.step ?? '',
    r.attempt === undefined ? '' : String(r.attempt),
    [r.error, r.detail].filter(Boolean).join('  '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]) =>
    c
      .map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}
