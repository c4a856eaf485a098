import { createIdFactory, type Duration, type JobState, type RecordedEvent, subjectsFor, toMs } from '@ratchet/protocol';
import { type Breaker, Client, type Workflow } from '@ratchet/sdk';
import { MemoryTransport } from '@ratchet/sdk/transport';
import type { EventStore, PgliteEventStore } from '@ratchet/store';
import { Worker } from '@ratchet/worker';
import { type Logger, pino } from 'pino';
import { Engine } from '../src/index.ts';
import { Activity } from './activity.ts';
import { FaultPlan } from './fault-plan.ts';
import type { Fault, InjectedFault } from './faults.ts';
import { migratedStore } from './migrated-store.ts';
import { trackedStore } from './tracked-store.ts';
import { TrackedTransport } from './tracked-transport.ts';
import { VirtualClock } from './virtual-clock.ts';

export interface TestEnvironmentOptions {
  /** The workflows its worker runs. */
  readonly workflows: readonly Workflow<never, unknown>[];
  /** Circuit breakers its steps may name. */
  readonly breakers?: readonly Breaker[];
  /**
   * Where the virtual clock starts (whole ms since the epoch up to 2^48-1, or a Date; else a
   * RangeError). @default the real time now
   */
  readonly startTime?: number | Date;
  /** Faults to inject (see `crashAfterStep`, `deliverTwice`, `failAttempt`); more with `inject()`. */
  readonly faults?: readonly Fault[];
  /**
   * Whether the clock jumps to the next due timer by itself whenever nothing is runnable. Off,
   * time moves only with `advance()`. @default true
   */
  readonly autoAdvance?: boolean;
  /** @default silent */
  readonly logger?: Logger;
}

/** Job ids are ULIDs, whose 48 bits of time end here (in the year 10889). */
const LATEST_START = 2 ** 48 - 1;

/** The prefix of the environment's subjects; its transport is its own, so any name would do. */
const PREFIX = 'test';

/**
 * Engine, worker and client in one process, on an in-memory PGlite log and the in-process
 * transport, with virtual time: whenever nothing is runnable (no request in flight, no step
 * function running, no store call or task hand-over pending), the clock jumps to the next due
 * timer and fires it — so `await ctx.sleep('30d')` completes at once in wall time while the log
 * records 30 days. `advance()` moves time by hand. Faults (a worker crash after a step, a task
 * delivered twice, a failing attempt) are declared per test and recorded.
 *
 * @example
 * const env = await TestEnvironment.create({ workflows: [reminder] });
 * const job = await env.client.start(reminder, { to: 'ada@example.com' });
 * expect(await job.result()).toBe('reminded'); // after a 30-day ctx.sleep, in milliseconds
 * await env.close();
 */
export class TestEnvironment {
  /** Starts and follows jobs (its handles' `result()` gives a job's output). */
  readonly client: Client;
  readonly engine: Engine;
  /** The log, in memory (gone on `close()`). */
  readonly store: EventStore;
  readonly #transport: MemoryTransport;
  readonly #activity: Activity;
  readonly #clock: VirtualClock;
  readonly #plan: FaultPlan;
  readonly #options: TestEnvironmentOptions;
  readonly #logger: Logger;
  #worker: { worker: Worker; link: TrackedTransport } | undefined;
  readonly #workers: Worker[] = [];
  #replacing: Promise<void> = Promise.resolve();
  #manual = 0;
  #closed = false;
  #driving: Promise<void> = Promise.resolve();

  private constructor(options: TestEnvironmentOptions, store: PgliteEventStore) {
    const start = options.startTime instanceof Date ? options.startTime.getTime() : (options.startTime ?? Date.now());
    if (typeof start !== 'number' || !Number.isInteger(start) || start < 0 || start > LATEST_START) {
      throw new RangeError(
        `startTime must be a valid time: a Date or whole ms since the epoch from 0 to ${LATEST_START} (the latest a job id can hold), got ${String(options.startTime)}`,
      );
    }
    if (options.faults !== undefined && !Array.isArray(options.faults)) {
      throw new TypeError(`faults must be an array (of crashAfterStep, deliverTwice, failAttempt), got ${typeof options.faults}`);
    }
    this.#options = options;
    this.#logger = options.logger ?? pino({ level: 'silent' });
    this.#activity = new Activity();
    this.#clock = new VirtualClock({ start, onSet: () => this.#activity.poke() });
    this.#transport = new MemoryTransport();
    this.store = trackedStore(store, this.#activity);
    this.#plan = new FaultPlan({
      clock: this.#clock.now,
      crash: () => this.crashWorker(),
      republish: (data, jobId) => {
        const { taskStream, tasks } = subjectsFor(PREFIX);
        const messageId = `${jobId}:duplicate:${this.#plan.injected.length}`;
        void this.#activity
          .track(() => this.#transport.publishTask({ stream: taskStream, subject: tasks }, data, messageId))
          .catch((error: unknown) => this.#logger.error({ err: error }, 'could not deliver a task twice'));
      },
    });
    this.#plan.add(options.faults ?? []);
    this.engine = new Engine({
      store: this.store,
      transport: this.#link(),
      prefix: PREFIX,
      logger: this.#logger,
      clock: this.#clock.now,
      timers: this.#clock,
      ids: createIdFactory(this.#clock.now),
      // One engine: no timers written elsewhere to look for. Polling on a virtual clock would
      // only give the clock somewhere to jump to for ever.
      timerPollMs: Number.POSITIVE_INFINITY,
      observer: (change) => this.#plan.committed(change),
    });
    this.client = new Client({ transport: this.#link(), prefix: PREFIX, ids: createIdFactory(this.#clock.now) });
  }

  /** Builds and starts an environment. Close it with `close()` (in `afterEach`). */
  static async create(options: TestEnvironmentOptions): Promise<TestEnvironment> {
    if (!Array.isArray(options?.workflows) || options.workflows.length === 0) {
      throw new TypeError('TestEnvironment.create needs { workflows: [...] } with at least one workflow');
    }
    const store = await migratedStore();
    let env: TestEnvironment;
    try {
      env = new TestEnvironment(options, store);
    } catch (error) {
      await store.close();
      throw error;
    }
    try {
      await env.engine.start();
      await env.#startWorker();
    } catch (error) {
      await env.close();
      throw error;
    }
    env.#driving = env.#drive();
    return env;
  }

  /** The virtual time, ms since the epoch (what `ctx.now()` and the log's timestamps use). */
  now(): number {
    return this.#clock.now();
  }

  /** The worker running jobs now (a crash replaces it). */
  get worker(): Worker {
    if (!this.#worker) throw new Error('the environment has no worker (it is closed)');
    return this.#worker.worker;
  }

  /** Adds faults to inject from now on. */
  inject(...faults: readonly Fault[]): void {
    this.#plan.add(faults);
  }

  /** Every fault that took effect so far, in order. */
  get injectedFaults(): readonly InjectedFault[] {
    return this.#plan.injected;
  }

  /**
   * Moves the clock forward by `duration`, firing each timer due on the way at its own instant
   * and letting what it starts run (step functions in progress are not waited for, so a step's
   * timeout can be reached). Resolves once the clock is there and nothing else is runnable.
   */
  async advance(duration: Duration): Promise<void> {
    const target = this.#clock.now() + toMs(duration, 'advance duration');
    this.#manual += 1;
    try {
      for (;;) {
        await this.#activity.settled({ steps: false });
        const next = this.#clock.nextAt();
        if (next === undefined || next > target) break;
        this.#clock.fireNext();
      }
      this.#clock.moveTo(target);
      await this.#activity.settled({ steps: false });
    } finally {
      this.#manual -= 1;
      this.#activity.poke();
    }
  }

  /** Waits `duration` of virtual time: the same as {@link advance}. */
  sleep(duration: Duration): Promise<void> {
    return this.advance(duration);
  }

  /** Resolves once nothing is runnable (without moving time). */
  async idle(): Promise<void> {
    await this.#replacing;
    await this.#activity.settled({ steps: true });
  }

  /** The job's events as the log holds them (what `ratchet export` writes and `replayHistory` takes). */
  history(jobId: string): Promise<readonly RecordedEvent[]> {
    return this.store.read(jobId);
  }

  /** The job's folded state: steps and their attempts, timers, inbox, status. */
  describe(jobId: string): Promise<JobState> {
    return this.client.describe(jobId);
  }

  /**
   * Kills the current worker abruptly (its connection is cut: nothing it sends arrives, the
   * tasks it held go back to the queue) and starts a fresh one, which claims its jobs. False
   * when there was no worker to crash (one is still starting after the last crash, or the
   * environment is closed).
   */
  crashWorker(): boolean {
    const current = this.#worker;
    if (!current || this.#closed) return false;
    current.link.sever();
    void current.worker.abandon();
    this.#worker = undefined;
    const end = this.#activity.begin();
    this.#replacing = this.#startWorker()
      .catch((error: unknown) => this.#logger.error({ err: error }, 'could not start a worker after a crash'))
      .finally(end);
    return true;
  }

  /** Stops worker and engine and drops the log and the transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#activity.close();
    await this.#replacing;
    await Promise.all(this.#workers.map((worker) => worker.stop().catch(() => {})));
    await this.engine.stop().catch(() => {});
    await this.#driving;
    await this.#transport.close();
    await this.store.close();
  }

  async #startWorker(): Promise<void> {
    const link = this.#link((data) => this.#plan.acknowledged(data));
    const worker = new Worker({
      transport: link,
      prefix: PREFIX,
      workflows: this.#options.workflows,
      name: `test-worker-${this.#workers.length + 1}`,
      logger: this.#logger,
      clock: this.#clock.now,
      timers: this.#clock,
      ...(this.#options.breakers ? { breakers: this.#options.breakers } : {}),
      shutdownGraceMs: 200,
      aroundAttempt: (info, run) => {
        if (link.severed) throw new Error('the worker crashed');
        const end = this.#activity.stepBegun();
        // An attempt given up (timed out, aborted) stops counting, even if its function never returns.
        info.signal.addEventListener('abort', end, { once: true });
        let result: unknown;
        try {
          result = this.#plan.attempt(info, run);
        } catch (error) {
          end();
          throw error;
        }
        return Promise.resolve(result).finally(end);
      },
    });
    this.#workers.push(worker);
    await worker.start();
    this.#worker = { worker, link };
  }

  #link(onAck?: (data: Uint8Array) => void): TrackedTransport {
    return new TrackedTransport({ transport: this.#transport, activity: this.#activity, ...(onAck ? { onAck } : {}) });
  }

  /** Jumps the clock to the next due timer whenever nothing is runnable. */
  async #drive(): Promise<void> {
    while (!this.#closed) {
      await this.#activity.settled({ steps: true });
      if (this.#closed) return;
      if (this.#manual > 0 || this.#options.autoAdvance === false || this.#clock.nextAt() === undefined) {
        await this.#activity.changed();
        continue;
      }
      this.#clock.fireNext();
    }
  }
}
