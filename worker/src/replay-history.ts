import { foldEvents, type RecordedEvent } from '@ratchet/protocol';
import type { DurableCall, EngineClient, Workflow } from '@ratchet/sdk';
import { pino } from 'pino';
import { JobRun } from './job-run.ts';

/** What replaying a recorded history against workflow code found. */
export type ReplayReport =
  | { readonly deterministic: true; readonly replayed: number }
  | {
      readonly deterministic: false;
      readonly position: number;
      readonly expected: DurableCall;
      readonly actual: DurableCall;
      readonly message: string;
      /** Where in the workflow's code the diverging call was made (`file:line:column`), when known. */
      readonly location?: string;
    };

/**
 * Replays a recorded history (from `ratchet export`, a test, or the engine) against `workflow`
 * without side effects: recorded calls return their recorded results, no step runs and nothing
 * is appended. Reports `deterministic` with the number of calls replayed, or the first
 * divergence: its position, the call the log recorded, the call the code made, and where.
 *
 * @example
 * // parseExportedHistory (@ratchet/protocol) brings back the bigints, dates and bytes the file tags.
 * const { events } = parseExportedHistory(readFileSync('job.json', 'utf8'));
 * expect(await replayHistory(orderWorkflow, events)).toMatchObject({ deterministic: true });
 */
export async function replayHistory(
  workflow: Workflow<never, unknown>,
  events: readonly RecordedEvent[],
  jobId = 'replay',
): Promise<ReplayReport> {
  const state = foldEvents(jobId, events);
  if (state.status === 'new') throw new Error('the history has no JobStarted: nothing to replay');
  if (state.workflow !== workflow.name) throw new Error(`the history is of workflow "${state.workflow}", not "${workflow.name}"`);
  // A replay asks the engine nothing; reaching it would be a bug in the replay.
  const engine = {
    send: () => Promise.reject(new Error('a replay sends nothing to the engine')),
    readHistory: () => Promise.reject(new Error('a replay reads nothing from the engine')),
  } as unknown as EngineClient;
  const outcome = await new JobRun({
    state,
    workflow: workflow as Workflow,
    engine,
    worker: 'replay',
    clock: Date.now,
    logger: pino({ level: 'silent' }),
    maxInProcessWaitMs: 0,
    signal: new AbortController().signal,
    replayOnly: true,
  }).run();
  switch (outcome.kind) {
    case 'replayed':
      return { deterministic: true, replayed: outcome.position };
    case 'diverged': {
      const { error } = outcome;
      // A workflow that threw where the log goes on: where it threw, not where that was noticed.
      const location = callSite(error.cause instanceof Error ? error.cause.stack : error.stack);
      return {
        deterministic: false,
        position: error.position,
        expected: error.expected,
        actual: error.actual,
        message: error.message,
        ...(location ? { location } : {}),
      };
    }
    case 'aborted':
      throw outcome.error;
    default:
      throw new Error(`the replay ended unexpectedly (${outcome.kind})`);
  }
}

/** The first frame of a stack that is the workflow's own code, not Ratchet's or Node's. */
function callSite(stack: string | undefined): string | undefined {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    if (/\/(worker|sdk|protocol)\/src\/|node:internal|node_modules/.test(line)) continue;
    const match = /\(?((?:file:\/\/)?[^\s()]+:\d+:\d+)\)?\s*$/.exec(line.trim());
    if (match?.[1]) return match[1].replace(/^file:\/\//, '');
  }
  return undefined;
}
