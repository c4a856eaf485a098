import {
  type BreakerSummary,
  breakerNameProblem,
  type Duration,
  type EngineCommand,
  type ForkJobReply,
  foldEvents,
  type JobRow,
  type JobState,
  type JobStatus,
  type JobSummary,
  jobIdProblem,
  MAX_TIME_MS,
  parseCommand,
  toMs,
} from '@ratchet/protocol';
import { type EventStore, jobIdPrefixProblem } from '@ratchet/store';
import { summarize } from '../job-writer.ts';
import { timelineRow } from '../timeline.ts';
import { HttpError } from './http-error.ts';
import { decodeCursor, encodeCursor } from './job-cursor.ts';
import { type RouteRequest, Router } from './router.ts';

/** What the API needs of the engine: its commands, carried out in process. */
export interface EngineCommands {
  execute(command: EngineCommand): Promise<unknown>;
}

/** What the API reads from the store directly: the job list and pages of a job's events. */
export type JobReads = Pick<EventStore, 'read' | 'listJobs'>;

/** What the JSON API's routes work with. */
export interface JsonApiOptions {
  readonly engine: EngineCommands;
  readonly store: JobReads;
  /** @default Date.now */
  readonly clock?: () => number;
}

const STATUSES: readonly JobStatus[] = ['running', 'completed', 'failed', 'cancelled', 'continued'];
/** Page sizes: the default, and the most one request may ask for. */
const JOBS_PAGE = { default: 50, max: 500 } as const;
const EVENTS_PAGE = { default: 500, max: 5000 } as const;
/** The largest seq: the store keeps seqs as Postgres int4. */
const MAX_SEQ = 2 ** 31 - 1;

/**
 * The routes of the JSON API under `/api`. Reads go to the store (the job list, event pages)
 * or through the engine's commands (a job's folded state); the only writes are the explicit
 * actions (signal, cancel, terminate, fork, breaker trip/reset), each one engine command.
 */
export function jsonApiRoutes(options: JsonApiOptions): Router {
  const { engine, store } = options;
  const clock = options.clock ?? Date.now;
  const run = <T>(command: unknown): Promise<T> => engine.execute(parseCommand(command)) as Promise<T>;
  const describe = (jobId: string) => run<JobState>({ type: 'DescribeJob', jobId });
  const withDuration = (row: JobRow | JobSummary) => ({ ...row, durationMs: (row.finishedAt ?? clock()) - row.startedAt });
  /** `cancel` asks the workflow to stop (it may compensate); `terminate` ends the job now. */
  const cancel = async ({ params, body }: RouteRequest, terminate: boolean) => {
    const action = terminate ? 'terminate' : 'cancel';
    const { reason } = objectBody(await body(), action);
    const job = await run<JobSummary>({
      type: 'CancelJob',
      jobId: checkedJobId(params),
      reason: reasonOf(reason, terminate ? 'terminated' : 'cancelled'),
      terminate,
    });
    return { job: withDuration(job) };
  };

  return new Router()
    .add('GET', '/api/jobs', async ({ query }) => {
      const status = query.get('status') || undefined;
      if (status !== undefined && !STATUSES.includes(status as JobStatus)) {
        throw new HttpError(400, 'BadQuery', `status must be one of ${STATUSES.join(', ')}, got "${status.slice(0, 60)}"`);
      }
      const workflow = query.get('workflow') || undefined;
      const prefix = query.get('q') || undefined;
      const prefixProblem = prefix === undefined ? undefined : jobIdPrefixProblem(prefix);
      if (prefixProblem !== undefined) throw new HttpError(400, 'BadQuery', `q: ${prefixProblem}`);
      const limit = integerParam(query, 'limit', JOBS_PAGE.default, 1, JOBS_PAGE.max);
      const after = query.get('after') || undefined;
      // One more than asked: its presence says whether a next page exists.
      const rows = await store.listJobs({
        limit: limit + 1,
        ...(status === undefined ? {} : { status: status as JobStatus }),
        ...(workflow === undefined ? {} : { workflow }),
        ...(prefix === undefined ? {} : { jobIdPrefix: prefix }),
        ...(after === undefined ? {} : { after: decodeCursor(after) }),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        jobs: page.map(withDuration),
        ...(rows.length > limit && last ? { next: encodeCursor({ startedAt: last.startedAt, jobId: last.jobId }) } : {}),
      };
    })
    .add('GET', '/api/jobs/:jobId', async ({ params }) => {
      const state = await describe(checkedJobId(params));
      return { job: withDuration(summarize(state)), state };
    })
    .add('GET', '/api/jobs/:jobId/events', async ({ params, query }) => {
      const jobId = checkedJobId(params);
      const after = integerParam(query, 'after', 0, 0, MAX_SEQ);
      const limit = integerParam(query, 'limit', EVENTS_PAGE.default, 1, EVENTS_PAGE.max);
      // The state first (it refuses an unknown job); its journal names the steps of every event read after.
      const state = await describe(jobId);
      // No seq lies past MAX_SEQ, and after + limit must stay an int4 for the store.
      const events = after === MAX_SEQ ? [] : await store.read(jobId, after, Math.min(limit, MAX_SEQ - after));
      const lastSeq = Math.max(state.lastSeq, events.at(-1)?.seq ?? 0);
      return {
        jobId,
        status: state.status,
        lastSeq,
        more: (events.at(-1)?.seq ?? after) < lastSeq,
        events: events.map((recorded) => ({
          seq: recorded.seq,
          recordedAt: recorded.recordedAt,
          type: recorded.event.type,
          event: recorded.event,
          line: timelineRow(recorded, state),
        })),
      };
    })
    .add('GET', '/api/jobs/:jobId/state', async ({ params, query }) => {
      const jobId = checkedJobId(params);
      if (!query.get('at')) throw new HttpError(400, 'BadQuery', 'at=<seq> is required: the event to fold the state up to');
      const at = integerParam(query, 'at', 1, 1, MAX_SEQ);
      const events = await store.read(jobId, 0, at);
      if (events.length === 0) throw new HttpError(404, 'JobNotFoundError', `no job ${jobId}`);
      if (events.length < at) throw new HttpError(400, 'BadQuery', `at=${at}: job ${jobId} has ${events.length} events`);
      return { at, state: foldEvents(jobId, events) };
    })
    .add('POST', '/api/jobs/:jobId/signal', async ({ params, body }) => {
      const { name, payload } = objectBody(await body(), 'signal');
      if (typeof name !== 'string' || name === '')
        throw new HttpError(400, 'BadBody', 'signal needs {"name": "<signal name>", "payload": …}');
      return run({ type: 'SignalJob', jobId: checkedJobId(params), name, payload: payload ?? null });
    })
    .add('POST', '/api/jobs/:jobId/cancel', (request) => cancel(request, false))
    .add('POST', '/api/jobs/:jobId/terminate', (request) => cancel(request, true))
    .add('POST', '/api/jobs/:jobId/fork', async ({ params, body }) => {
      const { from, setOutputs, jobId, version } = objectBody(await body(), 'fork');
      if (typeof from !== 'string' || from === '')
        throw new HttpError(400, 'BadBody', 'fork needs {"from": "<step name>", "setOutputs"?: {"<step>": …}, "jobId"?: "<new id>"}');
      if (setOutputs !== undefined && (typeof setOutputs !== 'object' || setOutputs === null || Array.isArray(setOutputs)))
        throw new HttpError(400, 'BadBody', 'fork: setOutputs must be an object of step name → result');
      const reply = await run<ForkJobReply>({
        type: 'ForkJob',
        jobId: checkedJobId(params),
        from,
        ...(setOutputs === undefined ? {} : { setOutputs }),
        ...(typeof jobId === 'string' && jobId !== '' ? { forkJobId: jobId } : {}),
        ...(typeof version === 'string' && version !== '' ? { version } : {}),
      });
      return { jobId: reply.jobId, job: withDuration(reply.job), forkedFrom: reply.forkedFrom };
    })
    .add('GET', '/api/breakers', async () => ({ breakers: await run<BreakerSummary[]>({ type: 'ControlBreaker', op: 'list' }) }))
    .add('POST', '/api/breakers/:name/trip', async ({ params, body }) => {
      // Tripping a breaker no step has used yet creates it, so the name must be one a step could use.
      const nameProblem = breakerNameProblem(params.name);
      if (nameProblem !== undefined) throw new HttpError(400, 'BadPath', nameProblem);
      const { for: duration } = objectBody(await body(), 'trip');
      let forMs: number | undefined;
      try {
        forMs = duration === undefined ? undefined : toMs(duration as Duration, 'for');
      } catch (error) {
        throw new HttpError(400, 'BadBody', (error as Error).message);
      }
      const latest = MAX_TIME_MS - clock();
      if (forMs !== undefined && forMs > latest) {
        throw new HttpError(
          400,
          'BadBody',
          `for must be at most ${latest} ms, so that the breaker opens until a time (${MAX_TIME_MS} ms, year 275760, is the last); got "${String(duration).slice(0, 60)}" (${forMs} ms)`,
        );
      }
      const breakers = await run<BreakerSummary[]>({
        type: 'ControlBreaker',
        op: 'trip',
        name: params.name,
        ...(forMs === undefined ? {} : { forMs }),
      });
      return { breakers };
    })
    .add('POST', '/api/breakers/:name/reset', async ({ params }) => ({
      breakers: await run<BreakerSummary[]>({ type: 'ControlBreaker', op: 'reset', name: params.name }),
    }));
}

function checkedJobId(params: RouteRequest['params']): string {
  const jobId = params.jobId as string;
  const problem = jobIdProblem(jobId);
  if (problem !== undefined) throw new HttpError(400, 'BadPath', problem);
  return jobId;
}

/** A number in the query: plain digits (no sign, spaces, `0x`, exponent or fraction), as the CLI takes them. */
function integerParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(400, 'BadQuery', `${name} must be an integer from ${min} to ${max}, got "${text.slice(0, 60)}"`);
  }
  return value;
}

function objectBody(body: unknown, action: string): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'BadBody', `the body of ${action} must be a JSON object`);
  }
  return body as Record<string, unknown>;
}

function reasonOf(reason: unknown, fallback: string): string {
  if (reason === undefined || reason === null || reason === '') return fallback;
  if (typeof reason !== 'string') throw new HttpError(400, 'BadBody', `reason must be a string, got ${typeof reason}`);
  return reason;
}
