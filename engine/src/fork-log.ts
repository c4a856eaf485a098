import {
  type ForkOrigin,
  foldEvents,
  type JobEvent,
  type JobStarted,
  type JobState,
  jobIdProblem,
  type RecordedEvent,
  type StepState,
} from '@ratchet/protocol';
import { Refusal } from './refusal.ts';

/** What to fork: the step to run again from, the results to replace, the new job. */
export interface ForkRequest {
  readonly sourceId: string;
  readonly forkId: string;
  /** The step (by name; its first occurrence) the fork runs again from. */
  readonly from: string;
  readonly setOutputs?: Readonly<Record<string, unknown>>;
  /** @default the source's version */
  readonly version?: string;
  readonly now: number;
}

/**
 * The first append of a forked job, built from the source job's history: its own `JobStarted`
 * (with `forkedFrom`) and the journal events of the source's latest run up to, not including,
 * the first event of step `from`.
 *
 * What is copied and what is not, so that the fork's log folds to a consistent state:
 * - `JobClaimed`, `JobReleased` and `HistoryWarned` are the source's own business: dropped.
 *   `TimerFired` stays (sleeps and retry waits ended), its epoch renumbered in the fork's own
 *   sequence (the fork starts at epoch 1, each copied `TimerFired` moves it by one), and every
 *   copied `StepStarted` carries the fork's epoch at that point; the worker stays the source's.
 * - An attempt open at the cut (a step running in parallel) runs again: its `StepStarted` is
 *   dropped when nothing after it depends on its position (a retry, or a first attempt at the
 *   end of the journal); otherwise it is recorded as failed with `ForkCutError` and retried at
 *   once, as a lost worker's attempt would be.
 * - A child job still running at the cut belongs to the source: the fork starts its own child
 *   instead (the `ChildStarted` names `<forkId>.c<position>`). Finished children keep their result.
 * - A cancellation requested of the source but not yet delivered to its workflow is dropped.
 * - Pending timers keep their absolute instants: a sleep already due fires at once.
 * - The execution timeout, if any, runs afresh from the fork's start. A fork of a child job is a
 *   job of its own: it has no parent.
 * - A step name that occurs more than once (a loop) means its first occurrence, for `from` and
 *   for `setOutputs` alike.
 *
 * Refuses (naming the steps the job has) an unknown step, a `setOutputs` step that is not a
 * finished step before the cut, and a source with no history.
 */
export function forkLog(history: readonly RecordedEvent[], request: ForkRequest): { events: JobEvent[]; origin: ForkOrigin } {
  const { sourceId, forkId, from, now } = request;
  const runStart = history.findLastIndex((recorded) => recorded.event.type === 'JobStarted');
  const started = history[runStart]?.event as JobStarted | undefined;
  if (!started) throw new Refusal('JobNotFoundError', `no job ${sourceId}`);
  const run = history.slice(runStart);
  const cut = run.findIndex(({ event }) => (event.type === 'StepStarted' || event.type === 'StepBlocked') && event.name === from);
  if (cut < 0) {
    throw new Refusal('UnknownStepError', `job ${sourceId} has no step "${from}" (its steps: ${stepNames(run).join(', ') || 'none'})`);
  }
  const prefix = run.slice(0, cut);
  const atCut = foldEvents(sourceId, renumbered(prefix));
  const replaced = replacements(atCut, prefix, request);
  const reopened = reopenedAttempts(atCut, prefix);
  const childIds = new Map<number, string>();
  for (const entry of atCut.journal) {
    if (entry.kind !== 'child' || entry.finished) continue;
    const childJobId = `${forkId}.c${entry.position}`;
    const problem = jobIdProblem(childJobId);
    if (problem) throw new Refusal('InvalidForkError', `the fork's own child job id: ${problem}`);
    childIds.set(entry.position, childJobId);
  }
  const keepCancel = atCut.cancel?.deliveredAt !== undefined;

  const copied: JobEvent[] = [];
  let epoch = 1;
  for (const { seq, event } of prefix.slice(1)) {
    if (reopened.dropped.has(seq)) continue;
    const replacement = replaced.get(seq);
    if (replacement) {
      copied.push(replacement);
      continue;
    }
    switch (event.type) {
      case 'JobClaimed':
      case 'JobReleased':
      case 'HistoryWarned':
        break;
      case 'TimerFired':
        epoch += 1;
        copied.push({ ...event, epoch });
        break;
      case 'StepStarted':
        copied.push({ ...event, epoch });
        break;
      case 'CancelRequested':
        if (keepCancel) copied.push(event);
        break;
      case 'ChildStarted': {
        const childJobId = childIds.get(event.position);
        copied.push(childJobId ? { ...event, childJobId } : event);
        break;
      }
      default:
        copied.push(event);
    }
  }
  // Recorded by the fork itself, after what it copied.
  const closing = reopened.closing(now);

  const outputs = request.setOutputs;
  const origin: ForkOrigin = {
    jobId: sourceId,
    step: from,
    seq: prefix.at(-1)?.seq ?? history[runStart]?.seq ?? 0,
    events: copied.length,
    ...(outputs && Object.keys(outputs).length > 0 ? { outputs } : {}),
  };
  const jobStarted: JobStarted = {
    type: 'JobStarted',
    workflow: started.workflow,
    version: request.version ?? started.version,
    input: started.input,
    epoch: 1,
    startedAt: now,
    ...(started.deadline === undefined ? {} : { deadline: now + Math.max(0, started.deadline - started.startedAt) }),
    forkedFrom: origin,
  };
  return { events: [jobStarted, ...copied, ...closing], origin };
}

/** Step names of a run, in order of first appearance. */
function stepNames(run: readonly RecordedEvent[]): string[] {
  const names = new Set<string>();
  for (const { event } of run) if (event.type === 'StepStarted' || event.type === 'StepBlocked') names.add(event.name);
  return [...names];
}

/**
 * The prefix as the fork's log will number it (the source's claims left out, its timers' epochs
 * following on from 1), so that it folds as the fork's will.
 */
function renumbered(prefix: readonly RecordedEvent[]): RecordedEvent[] {
  const out: RecordedEvent[] = [];
  let epoch = 1;
  for (const recorded of prefix) {
    const { event } = recorded;
    if (event.type === 'JobClaimed' || event.type === 'JobReleased') continue;
    const seq = out.length + 1;
    if (event.type === 'JobStarted') out.push({ ...recorded, seq, event: { ...event, epoch } });
    else if (event.type === 'TimerFired') out.push({ ...recorded, seq, event: { ...event, epoch: ++epoch } });
    else out.push({ ...recorded, seq });
  }
  return out;
}

/** The events `setOutputs` replaces: the event that settled each named step becomes a `StepCompleted`. */
function replacements(atCut: JobState, prefix: readonly RecordedEvent[], request: ForkRequest): Map<number, JobEvent> {
  const replaced = new Map<number, JobEvent>();
  const before = atCut.journal.filter((entry): entry is StepState => entry.kind === 'step');
  for (const [name, output] of Object.entries(request.setOutputs ?? {})) {
    const step = before.find((entry) => entry.name === name);
    if (!step) {
      const names = [...new Set(before.map((entry) => entry.name))].join(', ') || 'none';
      throw new Refusal(
        'UnknownStepError',
        `cannot set the output of step "${name}": it is not before step "${request.from}" in job ${request.sourceId} (steps before it: ${names})`,
      );
    }
    const last = step.attempts.at(-1);
    if ((step.status !== 'completed' && step.status !== 'failed') || !last || last.status === 'running') {
      throw new Refusal(
        'InvalidForkError',
        `cannot set the output of step "${name}": it had not finished when step "${request.from}" started`,
      );
    }
    // The seq that settled the step, located by its attempt's end in the prefix.
    const settling = prefix.findLast(
      ({ event }) =>
        (event.type === 'StepCompleted' || event.type === 'StepFailed') && event.stepId === step.position && event.attempt === last.attempt,
    );
    if (!settling) throw new Refusal('InvalidForkError', `cannot set the output of step "${name}": its last attempt has no end`);
    const endedAt =
      settling.event.type === 'StepCompleted' ? settling.event.completedAt : (settling.event as { failedAt: number }).failedAt;
    replaced.set(settling.seq, { type: 'StepCompleted', stepId: step.position, attempt: last.attempt, output, completedAt: endedAt });
  }
  return replaced;
}

/**
 * Attempts open at the cut: which `StepStarted` events to drop (by source seq), and the events
 * that close those that cannot be dropped (a first attempt with later positions after it).
 */
function reopenedAttempts(
  atCut: JobState,
  prefix: readonly RecordedEvent[],
): { dropped: Set<number>; closing: (now: number) => JobEvent[] } {
  const dropped = new Set<number>();
  const toClose: StepState[] = [];
  let end = atCut.journal.length;
  for (let position = atCut.journal.length - 1; position >= 0; position--) {
    const entry = atCut.journal[position];
    if (entry?.kind !== 'step' || entry.status !== 'running') continue;
    const open = entry.attempts.at(-1);
    if (!open) continue;
    const startSeq = prefix.findLast(
      ({ event }) => event.type === 'StepStarted' && event.stepId === position && event.attempt === open.attempt,
    )?.seq;
    // Dropping a first attempt removes its journal entry, unless a breaker's block made it.
    const removesEntry = open.attempt === 1 && !blockedFirst(prefix, position);
    const droppable = !removesEntry || position === end - 1;
    if (droppable && startSeq !== undefined) {
      dropped.add(startSeq);
      if (removesEntry) end = position;
    } else {
      toClose.push(entry);
    }
  }
  return {
    dropped,
    closing: (now) =>
      toClose.flatMap((step) => {
        const attempt = step.attempts.length;
        const failure = {
          name: 'ForkCutError',
          message: `attempt ${attempt} of step "${step.name}" was running when the job was forked; it runs again`,
        };
        return [
          { type: 'StepFailed', stepId: step.position, attempt, failure, failedAt: now, final: false },
          { type: 'StepRetryScheduled', stepId: step.position, attempt: attempt + 1, at: now, durable: false },
        ] satisfies JobEvent[];
      }),
  };
}

/** The step at `position` began with a breaker's block (its entry exists without its StepStarted). */
function blockedFirst(prefix: readonly RecordedEvent[], position: number): boolean {
  return prefix.some(({ event }) => event.type === 'StepBlocked' && event.stepId === position);
}
