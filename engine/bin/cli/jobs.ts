import { exportHistory, foldEvents, isFinished, type JobSummary, toJsonText } from '@ratchet/protocol';
import { readWholeHistory } from '@ratchet/sdk';
import type { EngineConnection } from './engine-connection.ts';
import { writeOut } from './write-out.ts';

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
  if (options.wait && engine.offline) {
    // Nothing runs jobs while this command holds the log, so the wait would never end.
    throw new Error(
      `--wait needs a running engine: no \`ratchet dev\` runs in ${engine.offline.dataDir} (start it, then start the job; or start it without --wait and it runs when \`ratchet dev\` starts)`,
    );
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
  process.stdout.write(`${toJsonText(job.status === 'completed' ? job.output : job.failure, 2) ?? 'undefined'}\n`);
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
    const until = b.status === 'closed' || b.openUntil === undefined ? '' : ` until ${timeText(b.openUntil)}`;
    process.stdout.write(
      `${b.name.padEnd(24)} ${b.status}${until}  (failures in a row ${b.consecutiveFailures}, probes ${b.probesInFlight})\n`,
    );
  }
  return 0;
}

/** A time from the log as ISO text; one that is not a date (an old trip for too long) as its number. */
function timeText(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms (not a valid date)` : date.toISOString();
}

/** `ratchet status`. */
export async function showStatus(engine: EngineConnection, jobId: string, json: boolean): Promise<number> {
  const job = await engine.send({ type: 'GetJob', jobId });
  if (json) {
    process.stdout.write(`${toJsonText(job, 2)}\n`);
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
  if (job.continuedAs !== undefined) lines.push(`next job  ${job.continuedAs}  (continued as a new job)`);
  if (job.status === 'completed') lines.push(`output    ${toJsonText(job.output) ?? 'undefined'}`);
  if (job.failure) lines.push(`error     ${job.failure.name}: ${job.failure.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** `ratchet state <jobId> [--at <seq>]`: the JobState folded up to an event (time travel). */
export async function showState(engine: EngineConnection, jobId: string, at: number | undefined): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  const last = events.at(-1)?.seq ?? 0;
  if (at !== undefined && (at < 1 || at > last)) throw new Error(`--at must be a seq from 1 to ${last}, got ${at}`);
  const state = foldEvents(jobId, at === undefined ? events : events.filter((e) => e.seq <= at));
  await writeOut(`${toJsonText(state, 2)}\n`);
  return 0;
}

/** `ratchet export <jobId>`: the job's history as JSON (format: README, "Export"). */
export async function exportJob(engine: EngineConnection, jobId: string): Promise<number> {
  const { events } = await readWholeHistory(engine, jobId);
  await writeOut(exportHistory(jobId, events));
  return 0;
}

/**
 * Polls until the job has finished; a job that continued as a new one (`ctx.continueAsNew`)
 * finishes with the last job of its chain, as `handle.result()` does.
 */
export async function waitFinished(engine: EngineConnection, jobId: string): Promise<JobSummary> {
  for (let current = jobId; ; ) {
    const job = await engine.send({ type: 'GetJob', jobId: current });
    if (job.status === 'continued' && job.continuedAs !== undefined) current = job.continuedAs;
    else if (isFinished(job)) return job;
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
