import {
  assertStorable,
  type Duration,
  decode,
  isFinished,
  type JobSummary,
  jobIdProblem,
  type Subjects,
  subjectsFor,
  toMs,
} from '@ratchet/protocol';
import { EngineClient } from './engine-client.ts';
import { JobFailedError } from './errors.ts';
import type { Transport } from './transport/index.ts';
import type { Workflow } from './workflow.ts';

export interface ClientOptions {
  readonly transport: Transport;
  /** Subject prefix of the installation. @default 'ratchet' */
  readonly prefix?: string;
  /** Timeout of each engine request. @default 10000 */
  readonly timeoutMs?: number;
}

export interface StartOptions {
  /** Your own id for the job. Starting with an id that exists returns that job instead of a new one. */
  readonly jobId?: string;
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

  constructor(options: ClientOptions) {
    this.#transport = options.transport;
    this.#subjects = subjectsFor(options.prefix);
    this.#engine = new EngineClient({
      transport: options.transport,
      subjects: this.#subjects,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
  }

  /** Starts `workflow` (a definition or a registered name) with `input`; returns a handle to the job. */
  async start<I, O>(workflow: Workflow<I, O> | string, input: I, options: StartOptions = {}): Promise<JobHandle<O>> {
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    assertStorable(input, `input of workflow "${name}"`);
    if (options.jobId !== undefined) {
      const problem = jobIdProblem(options.jobId);
      if (problem) throw new RangeError(problem);
    }
    const reply = await this.#engine.send({
      type: 'StartJob',
      workflow: name,
      input,
      ...(options.jobId === undefined ? {} : { jobId: options.jobId }),
      ...(typeof workflow === 'string' ? {} : { version: workflow.version }),
    });
    return this.handle<O>(reply.jobId);
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

  constructor(jobId: string, engine: EngineClient, transport: Transport, subjects: Subjects) {
    this.jobId = jobId;
    this.#engine = engine;
    this.#transport = transport;
    this.#subjects = subjects;
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
    if (finished.status === 'failed') throw new JobFailedError(finished);
    return finished.output as O;
  }

  async #waitFinished(timeoutMs: number | undefined): Promise<JobSummary> {
    let resolveNotice!: (job: JobSummary) => void;
    const notice = new Promise<JobSummary>((resolve) => {
      resolveNotice = resolve;
    });
    // Subscribe before asking, so a job finishing in between is not missed.
    const subscription = this.#transport.subscribe(this.#subjects.finished(this.jobId), (payload) =>
      resolveNotice(decode(payload) as JobSummary),
    );
    let timer: NodeJS.Timeout | undefined;
    const cleanups: (() => void)[] = [];
    try {
      const current = await this.status();
      if (isFinished(current)) return current;
      // Notices are at-most-once (an engine restart can drop one): look again now and then.
      const recheck = setInterval(() => {
        void this.status().then(
          (job) => {
            if (isFinished(job)) resolveNotice(job);
          },
          () => {},
        );
      }, 2000);
      cleanups.push(() => clearInterval(recheck));
      const waits: Promise<JobSummary>[] = [notice];
      if (timeoutMs !== undefined) {
        waits.push(
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`job ${this.jobId} did not finish within ${timeoutMs} ms`)), timeoutMs);
          }),
        );
      }
      return await Promise.race(waits);
    } finally {
      if (timer) clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
      subscription.unsubscribe();
    }
  }
}
