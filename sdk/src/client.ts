import {
  assertStorable,
  createIdFactory,
  type Duration,
  type IdFactory,
  isFinished,
  type JobState,
  type JobSummary,
  jobIdProblem,
  type OnExisting,
  type Subjects,
  subjectsFor,
  toMs,
} from '@ratchet/protocol';
import { EngineClient } from './engine-client.ts';
import { JobFailedError } from './errors.ts';
import { FinishWatch } from './finish-watch.ts';
import type { Transport } from './transport/index.ts';
import { jobTimeoutMs, type Workflow } from './workflow.ts';

export interface ClientOptions {
  readonly transport: Transport;
  /** Subject prefix of the installation: 1-64 lowercase letters, digits and `-` (else a RangeError). @default 'ratchet' */
  readonly prefix?: string;
  /** Timeout of each engine request. @default 10000 */
  readonly timeoutMs?: number;
  /** Makes job ids for starts that name none. @default ULIDs */
  readonly ids?: IdFactory;
}

export interface StartOptions {
  /** Your own id for the job. Starting with an id that exists returns that job instead of a new one. */
  readonly jobId?: string;
  /** With an existing `jobId`: `attach` to it, or `reject` the start (`JobExistsError`). @default 'attach' */
  readonly onExisting?: OnExisting;
  /**
   * The job fails with WorkflowTimeoutError if not finished this long after its start: whole
   * milliseconds, at least 1 (else a RangeError). @default the workflow's
   */
  readonly timeout?: Duration;
}

export interface ForkOptions {
  /** The step to run again from (by name, its first occurrence in the job). */
  readonly from: string;
  /** Results to use instead of the recorded ones, by name of a step before `from`. */
  readonly setOutputs?: Readonly<Record<string, unknown>>;
  /** The new job's id. @default a new ULID */
  readonly jobId?: string;
  /** The new job's workflow version. @default the source job's */
  readonly version?: string;
}

/**
 * Starts jobs and follows them.
 *
 * @example
 * const client = new Client({ transport });
 * const job = await client.start(orderWorkflow, { orderId: 'A-1' });
 * console.log(await job.result());
 */
export class Client {
  readonly #engine: EngineClient;
  readonly #transport: Transport;
  readonly #subjects: Subjects;
  readonly #ids: IdFactory;

  constructor(options: ClientOptions) {
    this.#transport = options.transport;
    this.#subjects = subjectsFor(options.prefix);
    this.#engine = new EngineClient({
      transport: options.transport,
      subjects: this.#subjects,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    this.#ids = options.ids ?? createIdFactory();
  }

  /** Starts `workflow` (a definition or a registered name) with `input`; returns a handle to the job. */
  async start<I, O>(workflow: Workflow<I, O> | string, input: I, options: StartOptions = {}): Promise<JobHandle<O>> {
    const name = workflowName(workflow);
    assertStorable(input, `input of workflow "${name}"`);
    if (options.jobId !== undefined) {
      const problem = jobIdProblem(options.jobId);
      if (problem) throw new RangeError(problem);
    }
    const timeout = timeoutOf(workflow, options);
    // The id is known before the start, so the finished notice is listened for from the start:
    // result() then needs no question to the engine, and no notice can slip by.
    const jobId = options.jobId ?? this.#ids();
    const watch = new FinishWatch(this.#transport, this.#subjects, jobId);
    try {
      const reply = await this.#engine.send({
        type: 'StartJob',
        workflow: name,
        input,
        jobId,
        ...(typeof workflow === 'string' ? {} : { version: workflow.version }),
        ...(options.onExisting === undefined ? {} : { onExisting: options.onExisting }),
        ...timeout,
        ...(options.jobId === undefined ? { freshId: true } : {}),
      });
      if (isFinished(reply.job)) watch.settle(reply.job);
      return new JobHandle<O>(jobId, this.#engine, this.#transport, this.#subjects, watch);
    } catch (error) {
      watch.close();
      throw error;
    }
  }

  /**
   * Starts a new job from job `jobId`'s recorded prefix: every call before step `from` returns
   * what the source recorded (or what `setOutputs` says), and the job runs on from `from` on the
   * current code. The source job is not touched; the new job's `JobStarted` names its origin
   * (`forkedFrom`). Refused with `UnknownStepError` for a step the job does not have.
   *
   * @example
   * const retry = await client.fork(failedJobId, { from: 'charge', setOutputs: { quote: { total: 40 } } });
   * console.log(await retry.result());
   */
  async fork<O = unknown>(jobId: string, options: ForkOptions): Promise<JobHandle<O>> {
    if (typeof options?.from !== 'string' || options.from.length === 0) throw new TypeError('fork needs the name of a step to run from');
    for (const [step, output] of Object.entries(options.setOutputs ?? {})) assertStorable(output, `output set for step "${step}"`);
    if (options.jobId !== undefined) {
      const problem = jobIdProblem(options.jobId);
      if (problem) throw new RangeError(problem);
    }
    const forkJobId = options.jobId ?? this.#ids();
    const watch = new FinishWatch(this.#transport, this.#subjects, forkJobId);
    try {
      const reply = await this.#engine.send({
        type: 'ForkJob',
        jobId,
        from: options.from,
        forkJobId,
        ...(options.setOutputs === undefined ? {} : { setOutputs: options.setOutputs }),
        ...(options.version === undefined ? {} : { version: options.version }),
      });
      if (isFinished(reply.job)) watch.settle(reply.job);
      return new JobHandle<O>(forkJobId, this.#engine, this.#transport, this.#subjects, watch);
    } catch (error) {
      watch.close();
      throw error;
    }
  }

  /**
   * Sends a signal to a running job; it waits in the job's inbox until `ctx.waitForSignal(name)`
   * takes it. A job that continued as new passes it on to the run that carries it on (the reply's
   * `jobId` says which took it). A signal to an unknown or finished job is refused
   * (`JobNotFoundError`, `JobFinishedError`).
   */
  async signal(jobId: string, name: string, payload?: unknown): Promise<{ signalId: string; jobId: string }> {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('a signal needs a non-empty name');
    assertStorable(payload, `payload of signal "${name}"`);
    return this.#engine.send({ type: 'SignalJob', jobId, name, payload });
  }

  /**
   * Asks a running job to cancel: its workflow gets a `CancelledError` at its next durable call and
   * may run compensating steps before it ends as cancelled. A job that continued as new passes it
   * on to the run that carries it on, as `terminate` does; the summary is of the run it reached.
   */
  cancel(jobId: string, reason = 'cancelled by request'): Promise<JobSummary> {
    return this.#engine.send({ type: 'CancelJob', jobId, reason, terminate: false });
  }

  /** Ends a running job at once, as cancelled, without its workflow running again. */
  terminate(jobId: string, reason = 'terminated by request'): Promise<JobSummary> {
    return this.#engine.send({ type: 'CancelJob', jobId, reason, terminate: true });
  }

  /** The job's whole folded state (JobState): steps and attempts, timers, inbox, status. */
  describe(jobId: string): Promise<JobState> {
    return this.#engine.send({ type: 'DescribeJob', jobId });
  }

  /** A handle to an existing job. */
  handle<O = unknown>(jobId: string): JobHandle<O> {
    return new JobHandle<O>(jobId, this.#engine, this.#transport, this.#subjects);
  }
}

/** Follows one job. */
export class JobHandle<O = unknown> {
  readonly jobId: string;
  readonly #engine: EngineClient;
  readonly #transport: Transport;
  readonly #subjects: Subjects;
  readonly #watch: FinishWatch | undefined;

  constructor(jobId: string, engine: EngineClient, transport: Transport, subjects: Subjects, watch?: FinishWatch) {
    this.jobId = jobId;
    this.#engine = engine;
    this.#transport = transport;
    this.#subjects = subjects;
    this.#watch = watch;
  }

  /** The job's current status and, once finished, its output or failure. */
  status(): Promise<JobSummary> {
    return this.#engine.send({ type: 'GetJob', jobId: this.jobId });
  }

  /**
   * Waits for the job to finish and returns its output; throws {@link JobFailedError} if it
   * failed, and a timeout error after `options.timeout` when given.
   */
  async result(options: { readonly timeout?: Duration } = {}): Promise<O> {
    const finished = await this.#waitFinished(options.timeout === undefined ? undefined : toMs(options.timeout, 'timeout'));
    if (finished.status === 'failed' || finished.status === 'cancelled') throw new JobFailedError(finished);
    // A job that continued as a new one has that job's result.
    if (finished.status === 'continued' && finished.continuedAs) {
      return new JobHandle<O>(finished.continuedAs, this.#engine, this.#transport, this.#subjects).result(options);
    }
    return finished.output as O;
  }

  async #waitFinished(timeoutMs: number | undefined): Promise<JobSummary> {
    // A handle from start() has listened since before the job existed; any other subscribes
    // first and then asks, so a job finishing in between is not missed either.
    const watch = this.#watch ?? new FinishWatch(this.#transport, this.#subjects, this.jobId);
    const settleIfFinished = (job: JobSummary) => {
      if (isFinished(job)) watch.settle(job);
    };
    // Notices are at-most-once (an engine restart can drop one): look again now and then.
    const recheck = setInterval(() => void this.status().then(settleIfFinished, () => {}), 2000);
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!this.#watch) settleIfFinished(await this.status());
      const waits: Promise<JobSummary>[] = [watch.finished];
      if (timeoutMs !== undefined) {
        waits.push(
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`job ${this.jobId} did not finish within ${timeoutMs} ms`)), timeoutMs);
          }),
        );
      }
      return await Promise.race(waits);
    } finally {
      clearTimeout(timer);
      clearInterval(recheck);
      if (!this.#watch) watch.close();
    }
  }
}

/** The name to start `workflow` by; a TypeError for anything but a definition or a name. */
function workflowName(workflow: unknown): string {
  if (typeof workflow === 'string') return workflow;
  const name = (workflow as { name?: unknown } | null)?.name;
  if (typeof workflow === 'object' && typeof name === 'string' && typeof (workflow as Workflow).version === 'string') return name;
  const shown =
    typeof workflow === 'function'
      ? 'a function (wrap it in defineWorkflow)'
      : typeof workflow === 'object' && workflow !== null
        ? 'an object without a string name and version'
        : String(workflow);
  throw new TypeError(`client.start needs a workflow from defineWorkflow or a workflow name, got ${shown}`);
}

function timeoutOf(
  workflow: Workflow<never, unknown> | Workflow<unknown, unknown> | string,
  options: StartOptions,
): { timeoutMs?: number } {
  if (options.timeout !== undefined) return { timeoutMs: jobTimeoutMs(options.timeout, 'timeout') };
  return typeof workflow !== 'string' && workflow.timeoutMs !== undefined ? { timeoutMs: workflow.timeoutMs } : {};
}
