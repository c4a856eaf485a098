import {
  assertNever,
  type ClaimJob,
  createIdFactory,
  DEADLINE_TIMER_ID,
  decode,
  type EngineCommand,
  encode,
  encodeOkReply,
  type IdFactory,
  INBOX_EVENTS,
  InvalidMessageError,
  isFinished,
  type JobState,
  parseCommand,
  REAL_TIMERS,
  type ReadHistory,
  type ReleaseJob,
  type Reply,
  type Subjects,
  subjectsFor,
  toFailure,
  type WorkerAnnounced,
} from '@ratchet/protocol';
import type { Subscription, TaskQueue, Transport } from '@ratchet/sdk/transport';
import type { DueTimer, EventStore } from '@ratchet/store';
import { type Logger, pino } from 'pino';
import { BreakerBoard, checkedBreakerPolicy } from './breaker-board.ts';
import { Dispatcher } from './dispatcher.ts';
import type { EngineOptions, JobChange } from './engine-options.ts';
import { forkJob } from './fork-job.ts';
import { GroupCommit } from './group-commit.ts';
import { encodeHistoryPage, HISTORY_PAGE_BYTES, HISTORY_PAGE_EVENTS } from './history-page.ts';
import { JobCache } from './job-cache.ts';
import { expectRunning, isHeld, needsWake } from './job-conditions.ts';
import { JobControl } from './job-control.ts';
import { JobStarts } from './job-starts.ts';
import { JobWriter, summarize, type Written } from './job-writer.ts';
import { Refusal } from './refusal.ts';
import { SnapshotTaker } from './snapshot-taker.ts';
import { takeOver } from './take-over.ts';
import { TimerLoop } from './timer-loop.ts';
import { WorkerAppends } from './worker-appends.ts';
import { WorkflowRegistry } from './workflow-registry.ts';

/**
 * The sole writer of the log. Serves commands over request/reply, validates every append
 * against the folded JobState (fencing stale epochs), group-commits, fires durable timers and
 * dispatches `AdvanceJob` tasks.
 *
 * @example
 * const engine = new Engine({ store: new PostgresEventStore({ url }), transport });
 * await engine.start();
 */
export class Engine {
  readonly #store: EventStore;
  readonly #transport: Transport;
  readonly #subjects: Subjects;
  readonly #queue: TaskQueue;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #ids: IdFactory;
  /** Names this engine's own command subject (see `Subjects.engine`). */
  readonly #engineId: string;
  readonly #maxPayloadBytes: number;
  readonly #commit: GroupCommit;
  readonly #writer: JobWriter;
  readonly #snapshots: SnapshotTaker;
  readonly #timers: TimerLoop;
  readonly #dispatcher: Dispatcher;
  readonly #registry: WorkflowRegistry;
  readonly #breakers: BreakerBoard;
  readonly #control: JobControl;
  readonly #starts: JobStarts;
  readonly #appends: WorkerAppends;
  readonly #subscriptions: Subscription[] = [];
  /** Commands being carried out for the transport: `stop()` lets them finish before the store closes. */
  readonly #serving = new Set<Promise<unknown>>();
  readonly #observer: ((change: JobChange) => void) | undefined;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#transport = options.transport;
    this.#subjects = subjectsFor(options.prefix);
    this.#queue = { stream: this.#subjects.taskStream, subject: this.#subjects.tasks };
    this.#logger = (options.logger ?? pino()).child({ component: 'engine' });
    this.#clock = options.clock ?? Date.now;
    this.#ids = options.ids ?? createIdFactory(this.#clock);
    this.#engineId = this.#ids()
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    this.#maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    this.#commit = new GroupCommit(this.#store, options.maxBatch ?? 512);
    this.#snapshots = new SnapshotTaker({ store: this.#store, every: snapshotEvery(options.snapshotEvery), logger: this.#logger });
    this.#writer = new JobWriter({
      store: this.#store,
      commit: this.#commit,
      cache: new JobCache(options.cacheSize ?? 10_000),
      clock: this.#clock,
      snapshots: this.#snapshots,
    });
    this.#timers = new TimerLoop({
      store: this.#store,
      clock: this.#clock,
      timers: options.timers ?? REAL_TIMERS,
      logger: this.#logger,
      fire: (timer) => this.#fireTimer(timer),
      pollMs: options.timerPollMs ?? 1000,
      leaseMs: options.timerLeaseMs ?? 30_000,
    });
    this.#registry = new WorkflowRegistry({ ttlMs: 15_000, clock: this.#clock });
    this.#breakers = new BreakerBoard({ store: this.#store, clock: this.#clock, probeStartLeaseMs: options.probeStartLeaseMs });
    this.#observer = options.observer;
    const afterWrite = (written: Written) => this.#afterWrite(written);
    this.#dispatcher = new Dispatcher({
      transport: this.#transport,
      queue: this.#queue,
      store: this.#store,
      writer: this.#writer,
      logger: this.#logger,
      clock: this.#clock,
      workersRestartWithEngine: options.workersRestartWithEngine ?? false,
      recoveryIntervalMs: options.recoveryIntervalMs ?? 30_000,
      afterWrite,
    });
    this.#control = new JobControl({ writer: this.#writer, clock: this.#clock, ids: this.#ids, afterWrite });
    this.#starts = new JobStarts({
      writer: this.#writer,
      dispatcher: this.#dispatcher,
      registry: this.#registry,
      control: this.#control,
      clock: this.#clock,
      ids: this.#ids,
      logger: this.#logger,
      afterWrite,
    });
    this.#appends = new WorkerAppends({
      writer: this.#writer,
      store: this.#store,
      dispatcher: this.#dispatcher,
      clock: this.#clock,
      ids: this.#ids,
      afterWrite,
      logger: this.#logger,
      historyLimit: options.historyLimit ?? 50_000,
      engineId: this.#engineId,
    });
  }

  /** Migrates the store, starts serving, fires due timers and re-dispatches runnable jobs. */
  async start(): Promise<void> {
    await this.#store.migrate();
    await this.#transport.ensureTaskQueue(this.#queue);
    this.#subscriptions.push(
      this.#transport.serve(this.#subjects.commands, (payload) => this.#serve(payload)),
      this.#transport.serve(this.#subjects.engine(this.#engineId), (payload) => this.#serve(payload)),
      this.#transport.subscribe(this.#subjects.announcements, (payload) => this.#onAnnounce(payload)),
    );
    // Workers that started first announced themselves to nobody: ask them again.
    this.#transport.publish(this.#subjects.rollCall, new Uint8Array(0));
    this.#timers.start();
    await this.#dispatcher.start();
    this.#logger.info({ prefix: this.#subjects.prefix }, 'engine started');
  }

  /**
   * Stops serving, and waits for the commands it was carrying out and for in-flight commits. The
   * store and transport stay open (they are the caller's).
   */
  async stop(): Promise<void> {
    this.#dispatcher.stop();
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
    // A command still reading or writing when the caller closes the store would fail, or hold
    // the close up (a postgres.js client ends only once its reserved connections are idle).
    while (this.#serving.size > 0) await Promise.allSettled([...this.#serving]);
    await this.#timers.stop();
    await this.#commit.idle();
    // Outcomes of the attempts those commits ended are still being written to their breakers.
    await this.#breakers.idle();
    // The caller closes the store next: a write still under way would hold its close up.
    await this.#snapshots.drain();
    this.#logger.info('engine stopped');
  }

  #serve(payload: Uint8Array): Promise<Uint8Array> {
    const reply = this.handleCommand(payload);
    this.#serving.add(reply);
    void reply.finally(() => this.#serving.delete(reply)).catch(() => {});
    return reply;
  }

  /** Carries out one command and returns the value of its reply; refusals throw. */
  async execute(command: EngineCommand): Promise<unknown> {
    switch (command.type) {
      case 'StartJob':
        return this.#starts.start(command);
      case 'AppendEvents':
        return this.#appends.append(command);
      case 'AppendBatch':
        return { results: await Promise.all(command.appends.map((append) => this.#settle(() => this.#appendOne(append)))) };
      case 'ReadHistory':
        return decode(await this.#readHistory(command));
      case 'GetJob':
        return summarize(await this.#existing(command.jobId));
      case 'ClaimJob':
        return this.#claimJob(command);
      case 'ReleaseJob':
        return this.#releaseJob(command);
      case 'SignalJob':
        return this.#control.signal(command);
      case 'CancelJob':
        return this.#control.cancel(command);
      case 'DescribeJob':
        return this.#existing(command.jobId);
      case 'AcquireBreaker':
        return this.#breakers.acquire(command.name, checkedBreakerPolicy(command.policy));
      case 'ControlBreaker':
        return this.#breakers.operate(command);
      case 'ForkJob':
        return forkJob(command, {
          writer: this.#writer,
          dispatcher: this.#dispatcher,
          registry: this.#registry,
          clock: this.#clock,
          ids: this.#ids,
          afterWrite: (written) => this.#afterWrite(written),
        });
      case 'ListJobs': {
        const jobIds = await this.#store.listJobIds({
          status: command.status,
          limit: Math.min(command.limit ?? 500, 5000),
          ...(command.workflow === undefined ? {} : { workflow: command.workflow }),
          ...(command.afterJobId === undefined ? {} : { afterJobId: command.afterJobId }),
        });
        return { jobIds };
      }
      default:
        return assertNever(command, 'command');
    }
  }

  /**
   * A history read, as the reply's MessagePack (measured, so never encoded twice): with `asState`
   * from the start, the job's folded state when it fits one reply; otherwise a page of events,
   * built from their stored bytes.
   */
  async #readHistory(command: ReadHistory): Promise<Uint8Array> {
    if (command.asState === true && command.afterSeq === 0) {
      const state = await this.#existing(command.jobId);
      const reply = encode({ job: summarize(state), state, events: [] });
      // A state too large for one reply goes as pages of events, which the reader follows.
      if (reply.byteLength <= HISTORY_PAGE_BYTES) return reply;
    }
    const { state, events, complete } = await this.#writer.encodedHistory(command.jobId, command.afterSeq, HISTORY_PAGE_EVENTS);
    if (state.status === 'new') throw new Refusal('JobNotFoundError', `no job ${command.jobId}`);
    return encodeHistoryPage(summarize(state), events, complete);
  }

  /** Decodes, validates and carries out a command; always answers with an encoded reply envelope. */
  async handleCommand(payload: Uint8Array): Promise<Uint8Array> {
    let reply: Reply<unknown>;
    try {
      if (payload.byteLength > this.#maxPayloadBytes) {
        throw new Refusal(
          'PayloadTooLargeError',
          `command of ${payload.byteLength} bytes exceeds the limit of ${this.#maxPayloadBytes} bytes`,
        );
      }
      const command = parseCommand(decode(payload));
      // A history read comes encoded already: it goes out as it is.
      if (command.type === 'ReadHistory') return encodeOkReply(await this.#readHistory(command));
      reply = await this.#settle(() => this.execute(command));
    } catch (error) {
      reply = this.#refused(error);
    }
    return encode(reply);
  }

  /** The reply envelope of what `run` resolves to or throws. */
  async #settle(run: () => Promise<unknown>): Promise<Reply<unknown>> {
    try {
      return { ok: true, value: await run() };
    } catch (error) {
      return this.#refused(error);
    }
  }

  #refused(error: unknown): Reply<unknown> {
    const failure = toFailure(error);
    if (!(error instanceof Refusal)) this.#logger.warn({ err: error }, 'command refused');
    return { ok: false, error: { name: failure.name, message: failure.message } };
  }

  /** One append of a batch, checked on its own: a malformed one fails alone. */
  #appendOne(append: unknown): Promise<unknown> {
    const command = parseCommand(append);
    if (command.type !== 'AppendEvents') throw new InvalidMessageError(`an AppendBatch holds only AppendEvents, not ${command.type}`);
    return this.#appends.append(command);
  }

  /**
   * Moves the job to a new epoch for a worker taking over from a previous delivery. Attempts
   * the previous holder left open are recorded as lost and retried at once (they count as
   * attempts, but the dependency did not fail, so no backoff applies).
   */
  async #claimJob(command: ClaimJob): Promise<unknown> {
    const written = await this.#writer.write(command.jobId, (state) => {
      expectRunning(state);
      if (command.epoch !== state.epoch) {
        throw new Refusal('StaleEpochError', `job ${state.jobId} was claimed already (epoch ${state.epoch}, not ${command.epoch})`);
      }
      return takeOver(state, { worker: command.worker }, this.#clock());
    });
    this.#afterWrite(written);
    return { epoch: written.after.epoch, lastSeq: written.after.lastSeq };
  }

  async #releaseJob(command: ReleaseJob): Promise<unknown> {
    const written = await this.#writer.write(command.jobId, (state) => {
      expectRunning(state);
      if (command.epoch !== state.epoch) {
        throw new Refusal(
          'StaleEpochError',
          `job ${state.jobId} is at epoch ${state.epoch}, not ${command.epoch}; it is not this worker's to release`,
        );
      }
      return takeOver(state, { worker: command.worker, release: command.reason }, this.#clock());
    });
    this.#afterWrite(written);
    await this.#dispatcher.dispatch({ type: 'AdvanceJob', jobId: command.jobId, epoch: written.after.epoch });
    return { epoch: written.after.epoch, lastSeq: written.after.lastSeq };
  }

  /**
   * Records a due timer as fired and dispatches the job at a new epoch — unless a worker holds
   * the job (an attempt open, or a retry being waited out): firing then would fence that worker
   * off mid-step. The timer fires instead as soon as the holder lets go (see `#afterWrite`).
   */
  async #fireTimer(timer: Pick<DueTimer, 'jobId' | 'timerId'>): Promise<void> {
    const written = await this.#writer.write(timer.jobId, (state) => {
      if (state.status !== 'running' || !state.timers[timer.timerId]) return [];
      if (timer.timerId === DEADLINE_TIMER_ID) {
        // The job ran out of time: it ends now, held or not (whatever its worker appends next is refused).
        const failure = { name: 'WorkflowTimeoutError', message: `job ${state.jobId} did not finish within its execution timeout` };
        return [{ type: 'JobFailed', failure, failedAt: this.#clock() }];
      }
      if (isHeld(state)) return [];
      return [{ type: 'TimerFired', timerId: timer.timerId, epoch: state.epoch + 1, firedAt: this.#clock() }];
    });
    if (written.events.length === 0) return;
    this.#afterWrite(written);
    if (!written.events.some((event) => event.type === 'TimerFired')) return;
    await this.#dispatcher.dispatch({ type: 'AdvanceJob', jobId: timer.jobId, epoch: written.after.epoch });
  }

  /** Effects of a committed append: wake the timer loop, announce a finished job. */
  #afterWrite(written: Written): void {
    this.#effects(written);
    const { before, after, events } = written;
    if (isFinished(after) && !isFinished(before) && after.status !== 'cancelled') {
      // A cancellation cascades as it is asked for (JobControl); any other end leaves children behind.
      void this.#control
        .cancelChildren(after, { reason: `parent job ${after.jobId} ${after.status}`, terminate: false })
        .catch((error: unknown) =>
          this.#logger.error({ err: error, jobId: after.jobId }, 'could not cancel the children of a finished job'),
        );
    }
    if (isFinished(after) && !isFinished(before) && after.parent) {
      void this.#control
        .notifyParent(after)
        .catch((error: unknown) =>
          this.#logger.error(
            { err: error, jobId: after.jobId },
            'could not tell the parent of a finished child; its next start or replay will',
          ),
        );
    }
    // Inbox events for a job no worker holds: send it to a worker to take them in.
    const wake =
      events.some((event) => event.type === 'ChildFinished') || (events.some((event) => INBOX_EVENTS.has(event.type)) && needsWake(after));
    if (after.status === 'running' && wake && !isHeld(after)) {
      void this.#dispatcher
        .dispatch({ type: 'AdvanceJob', jobId: after.jobId, epoch: after.epoch, seq: after.lastSeq })
        .catch((error: unknown) =>
          this.#logger.error({ err: error, jobId: after.jobId }, 'could not dispatch a job woken by its inbox; the recovery sweep will'),
        );
    }
  }

  #effects({ before, after, events }: Written): void {
    if (this.#observer && events.length > 0) {
      const recordedAt = after.updatedAt;
      try {
        this.#observer({ state: after, events: events.map((event, i) => ({ seq: before.lastSeq + i + 1, recordedAt, event })) });
      } catch (error) {
        // The append has committed: a watcher's failure must not turn it into a refusal for its
        // sender, nor skip the breaker outcomes, timers and wake-ups below.
        this.#logger.error({ err: error, jobId: after.jobId }, 'the engine observer threw; the append it was told of stands');
      }
    }
    this.#breakers.reportAttempts(before, events, (error, breaker) =>
      this.#logger.error({ err: error, breaker }, 'could not record a breaker outcome'),
    );
    const now = this.#clock();
    const letGo = after.status === 'running' && !isHeld(after);
    for (const timer of Object.values(after.timers)) {
      if (letGo && timer.fireAt <= now) {
        // Came due while a worker held the job: fire it now that the worker has let go.
        void this.#fireTimer({ jobId: after.jobId, timerId: timer.timerId }).catch((error: unknown) =>
          this.#logger.error({ err: error, jobId: after.jobId, ...timer }, 'could not fire timer'),
        );
      } else if (!before.timers[timer.timerId]) {
        this.#timers.wake(timer.fireAt);
      }
    }
    if (isFinished(after) && !isFinished(before)) {
      this.#transport.publish(this.#subjects.finished(after.jobId), encode(summarize(after)));
      this.#logger.debug({ jobId: after.jobId, status: after.status }, 'job finished');
    }
  }

  async #existing(jobId: string): Promise<JobState> {
    const state = await this.#writer.read(jobId);
    if (state.status === 'new') throw new Refusal('JobNotFoundError', `no job ${jobId}`);
    return state;
  }

  #onAnnounce(payload: Uint8Array): void {
    try {
      const announced = decode(payload) as WorkerAnnounced;
      if (typeof announced?.worker !== 'string' || !Array.isArray(announced.workflows)) throw new Error('not a worker announcement');
      this.#registry.announce(
        announced.worker,
        announced.workflows.filter((name): name is string => typeof name === 'string'),
      );
    } catch (error) {
      this.#logger.warn({ err: error }, 'ignored a malformed worker announcement');
    }
  }
}

function snapshotEvery(every = 1000): number {
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`snapshotEvery must be a whole number of events >= 1, got ${every}`);
  return every;
}
