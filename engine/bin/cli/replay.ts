import { readFile } from 'node:fs/promises';
import { foldEvents, parseExportedHistory, type RecordedEvent } from '@ratchet/protocol';
import { readWholeHistory } from '@ratchet/sdk';
import { replayHistory } from '@ratchet/worker';
import type { EngineConnection } from './engine-connection.ts';
import { loadWorkflows } from './load-workflows.ts';
import { UsageError } from './usage-error.ts';

export interface ReplayOptions {
  /** Replay only the events up to this seq. */
  readonly until?: number;
  /**
   * Open the Node inspector (on a free port of 127.0.0.1, or `inspectPort`), print its URL and
   * wait for a debugger before replaying, so breakpoints in workflow code stop during the replay.
   */
  readonly inspect?: boolean;
  readonly inspectPort?: number;
}

/**
 * `ratchet replay <jobId> --workflows <module> [--until <seq>] [--inspect]`: replays the job's
 * history (or its events up to a seq) against the module's code, without side effects; exit 1
 * at a divergence.
 */
export async function replayJob(
  engine: EngineConnection,
  jobId: string,
  workflowsPath: string,
  options: ReplayOptions = {},
): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  return replayEvents(jobId, events, workflowsPath, options);
}

/**
 * `ratchet replay --file job.json --workflows <module>`: the same, on a history that
 * `ratchet export` wrote (an incident's log, replayed where no engine runs).
 */
export async function replayFile(file: string, workflowsPath: string, options: ReplayOptions = {}): Promise<number> {
  const { jobId, events } = parseExportedHistory(await readFile(file, 'utf8'));
  return replayEvents(jobId, events, workflowsPath, options);
}

async function replayEvents(jobId: string, all: readonly RecordedEvent[], workflowsPath: string, options: ReplayOptions): Promise<number> {
  const first = all[0]?.event;
  if (first?.type !== 'JobStarted') throw new Error(`job ${jobId} has no history to replay`);
  const last = all.at(-1)?.seq ?? 0;
  const { until } = options;
  if (until !== undefined && (!Number.isSafeInteger(until) || until < 1 || until > last)) {
    throw new Error(`--until must be a seq from 1 to ${last} (the last event of job ${jobId}), got ${until}`);
  }
  const events = until === undefined ? all : all.filter((e) => e.seq <= until);
  const run = events.findLast((e) => e.event.type === 'JobStarted')?.event ?? first;
  if (run.type !== 'JobStarted') throw new Error(`job ${jobId} has no history to replay`);
  const { workflows } = await loadWorkflows(workflowsPath);
  const workflow = workflows.find((w) => w.name === run.workflow);
  if (!workflow) throw new Error(`${workflowsPath} has no workflow "${run.workflow}" (it has: ${workflows.map((w) => w.name).join(', ')})`);
  const inspector = options.inspect ? await openInspector(options.inspectPort ?? 0) : undefined;
  let report: Awaited<ReturnType<typeof replayHistory>>;
  try {
    report = await replayHistory(workflow, events, jobId);
  } finally {
    inspector?.close();
  }
  if (until !== undefined) process.stdout.write(`${reached(jobId, events, until)}\n`);
  if (report.deterministic) {
    const scope = until === undefined ? '' : ` up to seq ${until}`;
    process.stdout.write(`deterministic: the code made all ${report.replayed} recorded calls of job ${jobId}${scope}\n`);
    return 0;
  }
  const call = (c: { kind: string; name?: string }) => (c.name === undefined ? `${c.kind}()` : `${c.kind}("${c.name}")`);
  const lines = [
    `nondeterministic at position ${report.position}:`,
    `  recorded: ${call(report.expected)}`,
    `  code:     ${call(report.actual)}${report.location ? `  at ${report.location}` : ''}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 1;
}

/** What the log says at `until`: the event there and the job's state after it. */
function reached(jobId: string, events: readonly RecordedEvent[], until: number): string {
  const state = foldEvents(jobId, events);
  const at = events.at(-1) as RecordedEvent;
  const steps = state.journal.filter((entry) => entry.kind === 'step');
  const done = steps.filter((entry) => entry.status === 'completed').length;
  return `reached seq ${until} of job ${jobId} (${at.event.type}): job ${state.status}, ${state.journal.length} recorded call${
    state.journal.length === 1 ? '' : 's'
  }, ${done} of ${steps.length} step${steps.length === 1 ? '' : 's'} completed`;
}

/**
 * Opens the inspector and blocks until a debugger attaches and lets the process run
 * (`Runtime.runIfWaitingForDebugger`). Node prints "Debugger listening on ws://…" to stderr;
 * the line after it says what to do.
 */
async function openInspector(port: number): Promise<{ close(): void }> {
  const inspector = await import('node:inspector');
  inspector.open(port, '127.0.0.1', false);
  const url = inspector.url() as string;
  process.stderr.write(
    `ratchet replay: waiting for a debugger at ${url}\n` +
      `  (Chrome: open devtools://devtools/bundled/js_app.html?v8only=true&ws=${url.slice('ws://'.length)}${
        // chrome://inspect scans only the ports it is told (9229 by default), never a random one.
        port === 9229 ? ', or chrome://inspect' : '; chrome://inspect finds it only with --inspect-port 9229'
      })\n`,
  );
  inspector.waitForDebugger();
  return { close: () => inspector.close() };
}

/**
 * `ratchet verify --workflows <module> [--workflow <name>] [--sample <n>]`: the deploy gate.
 * Replays every running job (or a random sample of n) against the module's code and lists each one the
 * new code would break; exit 1 if any would.
 */
export async function verifyJobs(
  engine: EngineConnection,
  workflowsPath: string,
  options: { workflow?: string; sample?: number },
): Promise<number> {
  const { workflows } = await loadWorkflows(workflowsPath);
  const byName = new Map(workflows.map((w) => [w.name, w]));
  // A misspelt name would find no running job and pass the gate.
  if (options.workflow !== undefined && !byName.has(options.workflow)) {
    throw new UsageError(
      `--workflow ${options.workflow}: ${workflowsPath} has no such workflow (it has: ${[...byName.keys()].sort().join(', ')})`,
    );
  }
  const started = performance.now();
  const broken: string[] = [];
  /** Jobs of a version the module does not have, by workflow and version: its workers leave them to others. */
  const otherVersions = new Map<string, number>();
  let checked = 0;
  const check = async (jobId: string): Promise<string | undefined> => {
    const { events } = await readWholeHistory(engine, jobId);
    const run = events.findLast((e) => e.event.type === 'JobStarted')?.event;
    if (run?.type !== 'JobStarted') return undefined;
    const workflow = byName.get(run.workflow);
    if (!workflow) return `${jobId}: the module has no workflow "${run.workflow}"`;
    // A worker runs a job only on the version it started with (an unversioned start, on any):
    // this code will never replay it, so it cannot break it.
    if (run.version !== '' && run.version !== workflow.version) {
      const key = `"${run.workflow}" version ${run.version} (the module has version ${workflow.version})`;
      otherVersions.set(key, (otherVersions.get(key) ?? 0) + 1);
      return undefined;
    }
    const report = await replayHistory(workflow, events, jobId);
    if (report.deterministic) return undefined;
    const call = (c: { kind: string; name?: string }) => (c.name === undefined ? `${c.kind}()` : `${c.kind}("${c.name}")`);
    return `${jobId}: at position ${report.position} the log has ${call(report.expected)} but the code calls ${call(report.actual)}${report.location ? ` (${report.location})` : ''}`;
  };
  let running = 0;
  const checkAll = async (jobIds: readonly string[]) => {
    // A few at a time: each is a history read and a replay.
    for (let i = 0; i < jobIds.length; i += 16) {
      const batch = jobIds.slice(i, i + 16);
      for (const problem of await Promise.all(batch.map(check))) if (problem) broken.push(problem);
      checked += batch.length;
    }
  };
  const pages = runningJobIds(engine, options.workflow);
  if (options.sample === undefined) {
    for await (const jobIds of pages) await checkAll(jobIds);
    running = checked;
  } else {
    // A sample, not the first n: those would be the oldest (or the same few) every time.
    const all: string[] = [];
    for await (const jobIds of pages) all.push(...jobIds);
    running = all.length;
    await checkAll(randomSample(all, options.sample));
  }
  const seconds = (performance.now() - started) / 1000;
  for (const problem of broken) process.stdout.write(`would break: ${problem}\n`);
  let skipped = 0;
  for (const [what, count] of otherVersions) {
    skipped += count;
    process.stdout.write(
      `not replayed: ${count} running job${count === 1 ? '' : 's'} of workflow ${what}; its workers leave them to workers of their version, so keep those running until they finish\n`,
    );
  }
  const replayed = checked - skipped;
  const of = options.sample === undefined ? '' : ` (a random sample of ${running})`;
  process.stdout.write(
    `${replayed} running job${replayed === 1 ? '' : 's'}${of} replayed in ${seconds.toFixed(2)} s (${Math.round(replayed / Math.max(seconds, 0.001))}/s): ${
      broken.length === 0 ? 'all deterministic' : `${broken.length} would break`
    }\n`,
  );
  return broken.length === 0 ? 0 : 1;
}

/** The ids of running jobs (of `workflow`, when given), a page at a time. */
async function* runningJobIds(engine: EngineConnection, workflow: string | undefined): AsyncGenerator<readonly string[]> {
  let after: string | undefined;
  for (;;) {
    const { jobIds } = await engine.send({
      type: 'ListJobs',
      status: 'running',
      limit: 500,
      ...(workflow ? { workflow } : {}),
      ...(after ? { afterJobId: after } : {}),
    });
    if (jobIds.length === 0) return;
    yield jobIds;
    after = jobIds.at(-1);
  }
}

/** `n` of `items` chosen uniformly at random (all of them when there are no more), in random order. */
export function randomSample<T>(items: readonly T[], n: number): T[] {
  const pool = [...items];
  const count = Math.min(n, pool.length);
  // The first `count` places of a Fisher–Yates shuffle.
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, count);
}
