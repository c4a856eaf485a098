import { hostname } from 'node:os';
import {
  type AdvanceJob,
  decode,
  encode,
  foldEvents,
  isFinished,
  type JobState,
  parseTask,
  REAL_TIMERS,
  type Subjects,
  subjectsFor,
  type Timers,
  toFailure,
  type WorkerAnnounced,
} from '@ratchet/protocol';
import { type Breaker, EngineClient, type Workflow } from '@ratchet/sdk';
import type { Subscription, TaskConsumer, TaskDelivery, Transport } from '@ratchet/sdk/transport';
import { type Logger, pino } from 'pino';
import { AppendBatcher } from './append-batcher.ts';
import { JobRun, type RunOutcome } from './job-run.ts';
import { sharedNextTurn } from './next-turn.ts';
import type { AroundAttempt } from './step-runner.ts';

export interface WorkerOptions {
  readonly transport: Transport;
  /** The workflows this worker runs. Names must be unique. */
  readonly workflows: readonly Workflow<never, unknown>[];
  /** Subject prefix of the installation: 1-64 lowercase letters, digits and `-` (else a RangeError). @default 'ratchet' */
  readonly prefix?: string;
  /** Shown in the log as the worker of each attempt. @default `${hostname}-${pid}` */
  readonly name?: string;
  /** @default pino at 'info' */
  readonly logger?: Logger;
  /** Jobs this worker advances at once. @default 64 */
  readonly concurrency?: number;
  /**
   * How long a task may go without a heartbeat before it is delivered to another worker.
   * The worker heartbeats at a third of it. The default makes a dead worker's jobs resume
   * elsewhere within about a second (nats-server redelivers between one and two ack waits).
   * @default 600
   */
  readonly ackWaitMs?: number;
  /** Retry waits up to this long stay in the worker; longer ones go through durable timers. @default 2000 */
  readonly maxInProcessWaitMs?: number;
  /** Circuit breakers that steps may name (`{ breaker: 'payments' }`). */
  readonly breakers?: readonly Breaker[];
  /**
   * Parked jobs whose folded state the worker keeps, so that resuming one reads only the tail of
   * its log. A job not kept costs no more round trips: the engine answers with its folded state
   * (`ReadHistory{asState}`), only larger. Each kept state costs memory (~3 KB for a short job),
   * so the cache is small. @default 1000
   */
  readonly stateCacheSize?: number;
  /** Time to let in-flight jobs finish on `stop()` before releasing them. @default 10000 */
  readonly shutdownGraceMs?: number;
  /** @default Date.now */
  readonly clock?: () => number;
  /**
   * What in-process retry waits and step (heartbeat) timeouts wait with; must tell the same time
   * as `clock` (the test kit passes a virtual clock and its timers). @default REAL_TIMERS (Node's)
   */
  readonly timers?: Timers;
  /**
   * Runs each attempt of a step in place of its function, given the attempt and a `run()` that
   * calls the function. For tests (the test kit fails chosen attempts with it) and instrumentation.
   * @default none: the step function runs directly
   */
  readonly aroundAttempt?: AroundAttempt;
}

/** What becomes of a task: acknowledged, handed back after a delay, or left to its ack wait. */
type Settlement = 'ack' | 'leave' | { readonly retryInMs: number };

/** The longest a task this worker cannot run stays away before it is offered again. */
const HAND_BACK_MAX_MS = 10_000;

/** 1, 2, 4, 8, …: the deliveries of a task handed back that are logged. */
function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Refusals that the same append would meet on every try: the job fails with them instead. */
const PERMANENT = new Set([
  'IllegalTransitionError',
  'InvalidMessageError',
  'PayloadTooLargeError',
  'EngineEventError',
  'CodecError',
  'HistoryLimitError',
]);

/** Names of engine refusals that mean another delivery holds the job now. */
const FENCED = new Set(['StaleEpochError', 'SeqConflictError', 'JobFinishedError']);

/**
 * Pulls `AdvanceJob` tasks and advances each job by replaying its workflow against the log.
 * Never touches the database: everything goes through the engine.
 *
 * @example
 * const worker = new Worker({ transport, workflows: [orderWorkflow] });
 * await worker.start();
 */
export class Worker {
  readonly name: string;
  readonly #transport: Transport;
  readonly #subjects: Subjects;
  readonly #engine: EngineClient;
  readonly #workflows: ReadonlyMap<string, Workflow<never, unknown>>;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #ackWaitMs: number;
  readonly #maxInProcessWaitMs: number;
  readonly #shutdownGraceMs: number;
  readonly #clock: () => number;
  readonly #timers: Timers;
  readonly #aroundAttempt: AroundAttempt | undefined;
  /** Jobs being advanced here, with the epoch each run holds. */
  readonly #running = new Map<string, { epoch: number; done: Promise<void> }>();
  readonly #shutdown = new AbortController();
  readonly #nextTurn = sharedNextTurn();
  readonly #batcher: AppendBatcher;
  readonly #breakers: ReadonlyMap<string, Breaker>;
  /** Folded states of parked jobs, least recently used evicted first (a Map keeps insertion order). */
  readonly #states = new Map<string, JobState>();
  readonly #stateCacheSize: number;
  #consumer: TaskConsumer | undefined;
  #loop: Promise<void> | undefined;
  #announcer: NodeJS.Timeout | undefined;
  #abandoned = false;
  #rollCall: Subscription | undefined;

  constructor(options: WorkerOptions) {
    this.#transport = options.transport;
    this.#subjects = subjectsFor(options.prefix);
    this.#engine = new EngineClient({ transport: options.transport, subjects: this.#subjects });
    this.#batcher = new AppendBatcher(this.#engine);
    const workflows = new Map<string, Workflow<never, unknown>>();
    for (const workflow of options.workflows) {
      if (workflows.has(workflow.name)) throw new Error(`two workflows are named "${workflow.name}"`);
      workflows.set(workflow.name, workflow);
    }
    this.#workflows = workflows;
    this.name = options.name ?? `${hostname()}-${process.pid}`;
    this.#logger = (options.logger ?? pino()).child({ worker: this.name });
    this.#concurrency = options.concurrency ?? 64;
    this.#ackWaitMs = options.ackWaitMs ?? 600;
    this.#maxInProcessWaitMs = options.maxInProcessWaitMs ?? 2000;
    this.#shutdownGraceMs = options.shutdownGraceMs ?? 10_000;
    this.#clock = options.clock ?? Date.now;
    this.#timers = options.timers ?? REAL_TIMERS;
    this.#aroundAttempt = options.aroundAttempt;
    this.#stateCacheSize = options.stateCacheSize ?? 1000;
    this.#breakers = new Map((options.breakers ?? []).map((breaker) => [breaker.name, breaker]));
  }

  /** Starts pulling tasks. Resolves once the worker is consuming. */
  async start(): Promise<void> {
    const queue = { stream: this.#subjects.taskStream, subject: this.#subjects.tasks };
    await this.#transport.ensureTaskQueue(queue);
    this.#consumer = this.#transport.consumeTasks(queue, {
      consumer: 'workers',
      ackWaitMs: this.#ackWaitMs,
      maxInFlight: this.#concurrency,
    });
    this.#rollCall = this.#transport.subscribe(this.#subjects.rollCall, () => this.#announce());
    this.#announce();
    this.#announcer = setInterval(() => this.#announce(), 5000);
    this.#announcer.unref();
    const consumer = this.#consumer;
    this.#loop = (async () => {
      for await (const delivery of consumer) void this.#handle(delivery);
    })();
    this.#logger.info({ workflows: [...this.#workflows.keys()] }, 'worker started');
  }

  /**
   * Stops taking tasks, lets in-flight jobs run for up to `shutdownGraceMs`, then aborts the
   * rest: their tasks go back to the queue and another worker takes them over.
   */
  async stop(): Promise<void> {
    clearInterval(this.#announcer);
    this.#rollCall?.unsubscribe();
    await this.#consumer?.stop();
    await this.#loop;
    const inFlight = [...this.#running.values()].map((run) => run.done);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#shutdownGraceMs);
    });
    await Promise.race([Promise.all(inFlight), grace]);
    clearTimeout(timer);
    this.#shutdown.abort();
    await Promise.all(inFlight);
    this.#logger.info('worker stopped');
  }

  /**
   * Simulates a crash, for tests and demos: stops taking tasks and walks away from in-flight
   * jobs without acknowledging or heartbeating them, so they are delivered to another worker.
   * Their step functions cannot be stopped inside the process; whatever they append later is
   * fenced off by the engine.
   */
  async abandon(): Promise<void> {
    this.#abandoned = true;
    clearInterval(this.#announcer);
    this.#rollCall?.unsubscribe();
    await this.#consumer?.stop();
    await this.#loop;
  }

  #announce(): void {
    const announced: WorkerAnnounced = { worker: this.name, workflows: [...this.#workflows.keys()] };
    this.#transport.publish(this.#subjects.announcements, encode(announced));
  }

  async #handle(delivery: TaskDelivery): Promise<void> {
    let task: AdvanceJob;
    try {
      task = parseTask(decode(delivery.data));
    } catch (error) {
      // Not a task of ours: nothing can ever run it, so keeping it would only redeliver it forever.
      this.#logger.error({ err: error }, 'dropped a malformed task');
      delivery.ack();
      return;
    }
    const current = this.#running.get(task.jobId);
    if (current) {
      // The same job is already advancing here. A newer epoch (a timer that fired as this run let
      // go) or a wake (a signal or cancellation for a job parked meanwhile) waits here for the run
      // to end and is then taken here: handed back, it would return to some worker as a
      // redelivery, which claims the job and fences off a holder that is only finishing. A
      // redelivery of the task this worker holds (a heartbeat came late) is left alone, since
      // acknowledging it would end the task this run still needs; a duplicate first delivery is
      // dropped.
      if (task.epoch > current.epoch || task.seq !== undefined) {
        const stopBeating = this.#heartbeat(delivery);
        try {
          await current.done;
        } finally {
          stopBeating();
        }
        if (!this.#abandoned) await this.#handle(delivery);
      } else if (delivery.deliveryCount === 1) delivery.ack();
      return;
    }
    let finish!: () => void;
    this.#running.set(task.jobId, { epoch: task.epoch, done: new Promise((resolve) => (finish = resolve)) });
    const stopBeating = this.#heartbeat(delivery);
    try {
      const settle = await this.#advance(task, delivery);
      if (this.#abandoned) return;
      if (settle === 'ack') delivery.ack();
      else if (settle !== 'leave') delivery.nak(settle.retryInMs);
    } finally {
      stopBeating();
      this.#running.delete(task.jobId);
      finish();
    }
  }

  /**
   * A task this worker cannot run goes back to the queue for another worker, coming back later
   * each time (the ack wait, doubling up to {@link HAND_BACK_MAX_MS}): a job no live worker can
   * run waits for one without the workers passing it around, and logging it, without end.
   */
  #handBack(delivery: TaskDelivery): Settlement {
    return { retryInMs: Math.min(HAND_BACK_MAX_MS, this.#ackWaitMs * 2 ** Math.min(10, delivery.deliveryCount - 1)) };
  }

  /** Says "still working" on the delivery at a third of the ack wait (not once abandoned); returns the stop. */
  #heartbeat(delivery: TaskDelivery): () => void {
    const heartbeat = setInterval(
      () => {
        if (this.#abandoned) clearInterval(heartbeat);
        else delivery.working();
      },
      Math.max(50, Math.floor(this.#ackWaitMs / 3)),
    );
    return () => clearInterval(heartbeat);
  }

  /** Advances one job for one task; says whether the task is done or must come back. */
  async #advance(task: AdvanceJob, delivery: TaskDelivery): Promise<Settlement> {
    const log = this.#logger.child({ jobId: task.jobId });
    try {
      let state = await this.#load(task, delivery);
      if (state.status === 'new' || isFinished(state)) return 'ack';
      const redelivered = delivery.deliveryCount > 1;
      // A first delivery of an older epoch was superseded (a newer task is out). A redelivery
      // was not: its holder died, perhaps after claiming the job itself, so it is claimed again.
      if (!redelivered && task.epoch < state.epoch) return 'ack';
      if (!redelivered && hasOpenAttempt(state)) {
        // A first delivery finding an attempt open is a duplicate of a task another worker holds:
        // if that worker dies, its own task comes back redelivered and is claimed then.
        log.debug('duplicate task for a job in progress elsewhere; dropped');
        return 'ack';
      }
      const workflow = this.#workflows.get(state.workflow);
      if (!workflow) {
        // Another worker of the deployment may have it (the engine refuses to start workflows no
        // live worker has), or one being deployed will.
        if (isPowerOfTwo(delivery.deliveryCount)) {
          log.warn(
            { workflow: state.workflow, deliveries: delivery.deliveryCount },
            'this worker does not have the workflow of the job; handing the task back',
          );
        }
        return this.#handBack(delivery);
      }
      if (state.version !== '' && state.version !== workflow.version) {
        // Its recorded calls were made by that version's code; another would not replay them.
        if (isPowerOfTwo(delivery.deliveryCount)) {
          log.error(
            { workflow: state.workflow, version: state.version, has: workflow.version, deliveries: delivery.deliveryCount },
            `job started on version ${state.version} of workflow "${state.workflow}"; this worker has version ${workflow.version}, so it leaves the job to a worker that has it`,
          );
        }
        return this.#handBack(delivery);
      }
      if (redelivered) {
        // The previous holder may still be alive: fence it off before doing anything.
        const claim = await this.#engine.send({ type: 'ClaimJob', jobId: task.jobId, epoch: state.epoch, worker: this.name });
        const tail = await this.#engine.readHistory(task.jobId, state.lastSeq);
        state = foldEvents(task.jobId, tail.events, state);
        log.info({ epoch: claim.epoch }, 'claimed job from a previous delivery');
      }
      const run = new JobRun({
        state,
        workflow: workflow as Workflow,
        engine: this.#engine,
        worker: this.name,
        clock: this.#clock,
        timers: this.#timers,
        ...(this.#aroundAttempt ? { aroundAttempt: this.#aroundAttempt } : {}),
        logger: log,
        maxInProcessWaitMs: this.#maxInProcessWaitMs,
        signal: this.#shutdown.signal,
        nextTurn: this.#nextTurn,
        sendAppend: (command, engine) => this.#batcher.append(command, engine),
        breakers: this.#breakers,
      });
      const outcome = await run.run();
      const end = run.endState();
      if (outcome.kind === 'suspended') this.#remember(end, task.jobId);
      return await this.#settle(outcome, end, log);
    } catch (error) {
      return this.#settle({ kind: 'aborted', error }, undefined, log);
    }
  }

  /**
   * The job's state for a task: a first delivery of a new job carries its log; a parked job this
   * worker ran before needs only the tail after its cached state; anything else reads the log.
   */
  async #load(task: AdvanceJob, delivery: TaskDelivery): Promise<JobState> {
    const cached = this.#states.get(task.jobId);
    this.#states.delete(task.jobId);
    if (delivery.deliveryCount === 1 && task.history?.[0]?.seq === 1) return foldEvents(task.jobId, task.history);
    if (cached) {
      const tail = await this.#engine.readHistory(task.jobId, cached.lastSeq);
      try {
        return foldEvents(task.jobId, tail.events, cached);
      } catch {
        // The cache disagrees with the log (it should not): trust the log.
      }
    }
    // The engine folds it (from its cache, or a stored snapshot and the tail): no whole log to ship.
    const read = await this.#engine.send({ type: 'ReadHistory', jobId: task.jobId, afterSeq: 0, asState: true });
    if (read.state) return read.state;
    const first = foldEvents(task.jobId, read.events);
    if (!read.more) return first;
    return foldEvents(task.jobId, (await this.#engine.readHistory(task.jobId, first.lastSeq)).events, first);
  }

  #remember(state: JobState | undefined, jobId: string): void {
    if (!state) return;
    this.#states.set(jobId, state);
    if (this.#states.size > this.#stateCacheSize) {
      const oldest = this.#states.keys().next().value;
      if (oldest !== undefined) this.#states.delete(oldest);
    }
  }

  async #settle(outcome: RunOutcome, state: JobState | undefined, log: Logger): Promise<Settlement> {
    if (outcome.kind !== 'aborted') {
      log.debug({ outcome: outcome.kind }, 'task done');
      return 'ack';
    }
    const name = (outcome.error as Error)?.name;
    if (FENCED.has(name)) {
      log.info({ reason: name }, 'another delivery holds the job; letting go');
      return 'ack';
    }
    if (name === 'JobNotFoundError') {
      // The first task of a job goes out while its start commits; this start did not commit.
      log.warn('the engine has no such job (its start did not commit); dropping the task');
      return 'ack';
    }
    if (PERMANENT.has(name) && state) {
      // The same append would be refused again on every delivery: fail the job, saying why.
      log.error({ err: outcome.error }, 'the engine refused what this job produced; failing it');
      try {
        await this.#engine.send({
          type: 'AppendEvents',
          jobId: state.jobId,
          expectedSeq: state.lastSeq,
          epoch: state.epoch,
          events: [{ type: 'JobFailed', failure: toFailure(outcome.error), failedAt: this.#clock() }],
        });
        return 'ack';
      } catch (error) {
        log.warn({ err: error }, 'could not fail the job; the task returns after the ack wait');
        return 'leave';
      }
    }
    if (this.#shutdown.signal.aborted && state && !this.#abandoned) {
      // Out of grace: hand the job back explicitly, so another worker takes it over at once.
      try {
        await this.#engine.send({
          type: 'ReleaseJob',
          jobId: state.jobId,
          epoch: state.epoch,
          worker: this.name,
          reason: 'worker shut down',
        });
        log.info('released the job on shutdown');
        return 'ack';
      } catch (error) {
        log.warn({ err: error }, 'could not release the job; it returns after the ack wait');
        return 'leave';
      }
    }
    // Left unacknowledged, the task returns after the ack wait as a redelivery, and its next
    // holder claims the job (a nak would bring it back at once, but some servers then report
    // it as a first delivery).
    log.warn({ err: outcome.error }, 'could not advance the job; the task returns after the ack wait');
    return 'leave';
  }
}

function hasOpenAttempt(state: JobState): boolean {
  return state.journal.some((entry) => entry.kind === 'step' && entry.status === 'running');
}
