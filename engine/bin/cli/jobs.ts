import { formatTimeline, timeline } from '@ratchet/engine';
import { foldEvents, isFinished, type JobSummary } from '@ratchet/protocol';
import { readWholeHistory } from '@ratchet/sdk';
import { replayHistory } from '@ratchet/worker';
import type { EngineConnection } from './engine-connection.ts';
import { loadWorkflows } from './load-workflows.ts';

/** `ratchet start`: starts a job by workflow name; with `wait`, prints its output when it finishes. */
export async function startJob(
  engine: EngineConnection,
  options: { workflow: string; input: string | undefined; jobId: string | undefined; wait: boolean },
): Promise<number> {
  let input: unknown;
  try {
    input = options.input === undefined ? undefined : JSON.parse(options.input);
  } catch (error) {
    throw new Error(`--input is not valid JSON: ${(error as Error).message}`);
  }
  const reply = await engine.send({
    type: 'StartJob',
    workflow: options.workflow,
    input,
    ...(options.jobId ? { jobId: options.jobId } : {}),
  });
  process.stdout.write(`${reply.jobId}${reply.created ? '' : ' (existing job)'}\n`);
  if (!options.wait) return 0;
  const job = await waitFinished(engine, reply.jobId);
  process.stdout.write(`${JSON.stringify(job.status === 'completed' ? job.output : job.failure, null, 2) ?? 'undefined'}\n`);
  return job.status === 'completed' ? 0 : 1;
}

/** `ratchet breaker list|trip|reset`. */
export async function controlBreaker(
  engine: EngineConnection,
  op: string,
  name: string | undefined,
  forMs: number | undefined,
): Promise<number> {
  if (op !== 'list' && op !== 'trip' && op !== 'reset') throw new Error(`ratchet breaker takes list, trip or reset, not "${op}"`);
  const breakers = await engine.send({ type: 'ControlBreaker', op, ...(name ? { name } : {}), ...(forMs === undefined ? {} : { forMs }) });
  if (breakers.length === 0) process.stdout.write('no breakers yet (a breaker appears when a step first uses it)\n');
  for (const b of breakers) {
    const until = b.status === 'closed' || b.openUntil === undefined ? '' : ` until ${new Date(b.openUntil).toISOString()}`;
    process.stdout.write(
      `${b.name.padEnd(24)} ${b.status}${until}  (failures in a row ${b.consecutiveFailures}, probes ${b.probesInFlight})\n`,
    );
  }
  return 0;
}

/** `ratchet status`. */
export async function showStatus(engine: EngineConnection, jobId: string, json: boolean): Promise<number> {
  const job = await engine.send({ type: 'GetJob', jobId });
  if (json) {
    process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `job       ${job.jobId}`,
    `workflow  ${job.workflow}${job.version ? ` v${job.version}` : ''}`,
    `status    ${job.status}`,
    `started   ${new Date(job.startedAt).toISOString()}`,
    `updated   ${new Date(job.updatedAt).toISOString()}  (seq ${job.lastSeq}, epoch ${job.epoch})`,
  ];
  if (job.finishedAt !== undefined)
    lines.push(`finished  ${new Date(job.finishedAt).toISOString()}  (${job.finishedAt - job.startedAt} ms)`);
  if (job.status === 'completed') lines.push(`output    ${JSON.stringify(job.output)}`);
  if (job.failure) lines.push(`error     ${job.failure.name}: ${job.failure.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** `ratchet history`: every event with seq, time, type, step, attempt and error. */
export async function showHistory(
  engine: EngineConnection,
  jobId: string,
  json: boolean,
  filter: { readonly step?: string; readonly type?: string } = {},
): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  const all = timeline(jobId, events).map((row, i) => ({ row, event: events[i]?.event }));
  const kept = all.filter(
    ({ row }) => (filter.step === undefined || row.step === filter.step) && (filter.type === undefined || row.type === filter.type),
  );
  const rows = kept.map(({ row }) => row);
  if (json) {
    const full = kept.map(({ row, event }) => ({ ...row, event }));
    process.stdout.write(`${JSON.stringify(full, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatTimeline(rows)}\n`);
  }
  return 0;
}

/** `ratchet state <jobId> [--at <seq>]`: the JobState folded up to an event (time travel). */
export async function showState(engine: EngineConnection, jobId: string, at: number | undefined): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  const last = events.at(-1)?.seq ?? 0;
  if (at !== undefined && (at < 1 || at > last)) throw new Error(`--at must be a seq from 1 to ${last}, got ${at}`);
  const state = foldEvents(jobId, at === undefined ? events : events.filter((e) => e.seq <= at));
  process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  return 0;
}

/** `ratchet export <jobId>`: the job's history as JSON (format: README, "Export"). */
export async function exportJob(engine: EngineConnection, jobId: string): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  const exported = { format: 'ratchet-history', version: 1, jobId, events };
  process.stdout.write(`${JSON.stringify(exported, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`);
  return 0;
}

/**
 * `ratchet replay <jobId> --workflows <module>`: replays the job's history against the module's
 * code, without side effects; exit 1 at a divergence.
 */
export async function replayJob(engine: EngineConnection, jobId: string, workflowsPath: string): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  const first = events[0]?.event;
  if (first?.type !== 'JobStarted') throw new Error(`job ${jobId} has no history to replay`);
  const { workflows } = await loadWorkflows(workflowsPath);
  const workflow = workflows.find((w) => w.name === first.workflow);
  if (!workflow)
    throw new Error(`${workflowsPath} has no workflow "${first.workflow}" (it has: ${workflows.map((w) => w.name).join(', ')})`);
  const report = await replayHistory(workflow, events, jobId);
  if (report.deterministic) {
    process.stdout.write(`deterministic: the code made all ${report.replayed} recorded calls of job ${jobId}\n`);
    return 0;
  }
  const call = (c: { kind: string; name?: string }) => (c.name === undefined ? `${c.kind}()` : `${c.kind}("${c.name}")`);
  process.stdout.write(
    `${[
      `nondeterministic at position ${report.position}:`,
      `  recorded: ${call(report.expected)}`,
      `  code:     ${call(report.actual)}${report.location ? `  at ${report.location}` : ''}`,
    ].join('\n')}\n`,
  );
  return 1;
}

/**
 * `ratchet verify --workflows <module> [--workflow <name>] [--sample <n>]`: the deploy gate.
 * Replays every running job (or the first n) against the module's code and lists each one the
 * new code would break; exit 1 if any would.
 */
export async function verifyJobs(
  engine: EngineConnection,
  workflowsPath: string,
  options: { workflow?: string; sample?: number },
): Promise<number> {
  const { workflows } = await loadWorkflows(workflowsPath);
  const byName = new Map(workflows.map((w) => [w.name, w]));
  const started = performance.now();
  const broken: string[] = [];
  let checked = 0;
  let after: string | undefined;
  const check = async (jobId: string): Promise<string | undefined> => {
    const { events } = await readWholeHistory(engine, jobId);
    const first = events[0]?.event;
    if (first?.type !== 'JobStarted') return undefined;
    const workflow = byName.get(first.workflow);
    if (!workflow) return `${jobId}: the module has no workflow "${first.workflow}"`;
    const report = await replayHistory(workflow, events, jobId);
    if (report.deterministic) return undefined;
    const call = (c: { kind: string; name?: string }) => (c.name === undefined ? `${c.kind}()` : `${c.kind}("${c.name}")`);
    return `${jobId}: at position ${report.position} the log has ${call(report.expected)} but the code calls ${call(report.actual)}${report.location ? ` (${report.location})` : ''}`;
  };
  pages: for (;;) {
    const { jobIds } = await engine.send({
      type: 'ListJobs',
      status: 'running',
      limit: 500,
      ...(options.workflow ? { workflow: options.workflow } : {}),
      ...(after ? { afterJobId: after } : {}),
    });
    if (jobIds.length === 0) break;
    // A few at a time: each is a history read and a replay.
    for (let i = 0; i < jobIds.length; i += 16) {
      const batch = jobIds.slice(i, i + 16);
      for (const problem of await Promise.all(batch.map(check))) if (problem) broken.push(problem);
      checked += batch.length;
      if (options.sample !== undefined && checked >= options.sample) break pages;
    }
    after = jobIds.at(-1);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const problem of broken) process.stdout.write(`would break: ${problem}\n`);
  process.stdout.write(
    `${checked} running job${checked === 1 ? '' : 's'} replayed in ${seconds.toFixed(2)} s (${Math.round(checked / Math.max(seconds, 0.001))}/s): ${
      broken.length === 0 ? 'all deterministic' : `${broken.length} would break`
    }\n`,
  );
  return broken.length === 0 ? 0 : 1;
}

async function waitFinished(engine: EngineConnection, jobId: string): Promise<JobSummary> {
  for (;;) {
    const job = await engine.send({ type: 'GetJob', jobId });
    if (isFinished(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
