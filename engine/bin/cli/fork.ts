import { toJsonText } from '@ratchet/protocol';
import type { EngineConnection } from './engine-connection.ts';
import { waitFinished } from './jobs.ts';

export interface ForkCommandOptions {
  readonly from: string;
  /** `step=json` pairs, from each `--set-output`. */
  readonly setOutputs: readonly string[];
  readonly forkJobId?: string;
  /** The new job's workflow version (default: the source's), for workers that run a newer one. */
  readonly version?: string;
  readonly wait: boolean;
}

/**
 * `ratchet fork <jobId> --from <step> [--set-output <step>=<json>]... [--job-id <id>] [--workflow-version <v>] [--wait]`:
 * starts a new job from the job's recorded prefix up to `step`, which runs again on the current
 * code; with `wait`, prints its output when it finishes.
 */
export async function forkJob(engine: EngineConnection, jobId: string, options: ForkCommandOptions): Promise<number> {
  const setOutputs = parseSetOutputs(options.setOutputs);
  const reply = await engine.send({
    type: 'ForkJob',
    jobId,
    from: options.from,
    ...(Object.keys(setOutputs).length === 0 ? {} : { setOutputs }),
    ...(options.forkJobId ? { forkJobId: options.forkJobId } : {}),
    ...(options.version ? { version: options.version } : {}),
  });
  const { forkedFrom: origin } = reply;
  process.stdout.write(
    `${reply.jobId}  forked from job ${origin.jobId} at its seq ${origin.seq}: ${origin.events} event${origin.events === 1 ? '' : 's'} reused, step "${origin.step}" runs again\n`,
  );
  if (!options.wait) return 0;
  const job = await waitFinished(engine, reply.jobId);
  process.stdout.write(`${toJsonText(job.status === 'completed' ? job.output : job.failure, 2) ?? 'undefined'}\n`);
  return job.status === 'completed' ? 0 : 1;
}

/** `step=json` pairs as an object; a malformed pair or a step named twice is an error naming it. */
export function parseSetOutputs(pairs: readonly string[]): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new Error(`--set-output takes <step>=<json>, got "${pair}"`);
    const step = pair.slice(0, equals);
    if (Object.hasOwn(outputs, step)) throw new Error(`--set-output names step "${step}" twice`);
    try {
      outputs[step] = JSON.parse(pair.slice(equals + 1));
    } catch (error) {
      throw new Error(`--set-output ${step}: the value is not valid JSON (${(error as Error).message}); quote strings: ${step}='"text"'`);
    }
  }
  return outputs;
}
