import {
  admit,
  applyBreakerEvent,
  type BreakerEvent,
  type BreakerState,
  type BreakerSummary,
  breakerNameProblem,
  type ControlBreaker,
  closedBreaker,
  InvalidMessageError,
  type JobEvent,
  type JobState,
  MAX_TIME_MS,
  type ResolvedBreakerPolicy,
  recordOutcome,
} from '@ratchet/protocol';
import type { EventStore } from '@ratchet/store';
import { KeyedMutex } from './keyed-mutex.ts';
import { Refusal } from './refusal.ts';

/** A breaker as the engine runs it. */
interface BoardEntry {
  policy?: ResolvedBreakerPolicy;
  state: BreakerState;
  /**
   * When each probe admitted and not yet seen starting loses its slot, oldest first. Once in the
   * log, a probe's end is recorded whatever happens to its worker (a claim records a lost
   * attempt); one whose worker died, stopped or was fenced off before its `StepStarted` would
   * hold its slot forever, and the half-open breaker would admit nothing more.
   */
  unstarted: number[];
}

/**
 * The engine's breakers: state machines of protocol's pure `admit`/`recordOutcome`, whose
 * transitions are appended to each breaker's own stream before anyone acts on them, so a
 * restarted engine or another replica reads the same state. Counts between transitions live
 * in memory (a restart starts them afresh, on the recorded state).
 */
export class BreakerBoard {
  readonly #store: EventStore;
  readonly #clock: () => number;
  readonly #breakers = new Map<string, BoardEntry>();
  readonly #locks = new KeyedMutex();
  readonly #probeStartLeaseMs: number;

  /** `probeStartLeaseMs`: how long an admitted probe may take to start (see `EngineOptions`). */
  constructor(options: { store: EventStore; clock: () => number; probeStartLeaseMs?: number | undefined }) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#probeStartLeaseMs = options.probeStartLeaseMs ?? 10_000;
  }

  /** Reads every breaker's stream (at start, and to see other replicas' transitions). */
  async load(): Promise<void> {
    const events = await this.#store.readBreakerEvents();
    const states = new Map<string, BreakerState>();
    for (const { name, event } of events) states.set(name, applyBreakerEvent(states.get(name) ?? closedBreaker(name), event));
    for (const [name, state] of states) {
      const known = this.#breakers.get(name);
      if (!known || known.state.status !== state.status || known.state.openUntil !== state.openUntil) {
        this.#breakers.set(name, { ...(known?.policy ? { policy: known.policy } : {}), state, unstarted: [] });
      }
    }
  }

  acquire(name: string, policy: ResolvedBreakerPolicy): Promise<{ admitted: boolean; probe: boolean; retryAt?: number }> {
    return this.#locks.run(name, async () => {
      const breaker = this.#get(name);
      breaker.policy = policy;
      const now = this.#clock();
      this.#expireUnstarted(breaker, now);
      const admission = admit(breaker.state, policy, now);
      await this.#record(name, admission.transitions);
      this.#setState(breaker, admission.state, admission.transitions);
      if (admission.probe) breaker.unstarted.push(now + this.#probeStartLeaseMs);
      return {
        admitted: admission.admitted,
        probe: admission.probe,
        ...(admission.retryAt === undefined ? {} : { retryAt: admission.retryAt }),
      };
    });
  }

  /** An admitted call ended: `ok` undefined when it ended without an outcome (its worker was lost). */
  report(name: string, outcome: { ok: boolean | undefined; probe: boolean }): Promise<void> {
    return this.#locks.run(name, async () => {
      const breaker = this.#breakers.get(name);
      if (!breaker?.policy) return;
      const next = recordOutcome(breaker.state, breaker.policy, outcome, this.#clock());
      await this.#record(name, next.transitions);
      this.#setState(breaker, next.state, next.transitions);
    });
  }

  /** Tells the breakers how the attempts they admitted ended; `onError` hears of outcomes that could not be recorded. */
  reportAttempts(before: JobState, events: readonly JobEvent[], onError: (error: unknown, breaker: string) => void): void {
    for (const event of events) {
      // A probe in the log: its end will be reported, so its slot is no longer on a lease.
      if (event.type === 'StepStarted' && event.probe === true && event.breaker !== undefined) {
        this.#breakers.get(event.breaker)?.unstarted.shift();
      }
      if (event.type !== 'StepCompleted' && event.type !== 'StepFailed') continue;
      const entry = before.journal[event.stepId];
      const attempt = entry?.kind === 'step' ? entry.attempts.find((a) => a.attempt === event.attempt) : undefined;
      if (!attempt?.breaker) continue;
      const breaker = attempt.breaker;
      const lost = event.type === 'StepFailed' && (event.failure.name === 'WorkerLostError' || event.failure.name === 'WorkerStoppedError');
      const ok = event.type === 'StepCompleted' ? true : lost ? undefined : false;
      void this.report(breaker, { ok, probe: attempt.probe === true }).catch((error: unknown) => onError(error, breaker));
    }
  }

  /** Opens `name` for `forMs` (an operator's trip), or closes it (a reset). */
  control(name: string, op: 'trip' | 'reset', forMs: number): Promise<void> {
    return this.#locks.run(name, async () => {
      const breaker = this.#get(name);
      const event: BreakerEvent =
        op === 'trip'
          ? { type: 'BreakerOpened', until: this.#clock() + forMs, reason: 'tripped by an operator' }
          : { type: 'BreakerClosed', reason: 'reset by an operator' };
      await this.#record(name, [event]);
      this.#setState(breaker, applyBreakerEvent(breaker.state, event), [event]);
    });
  }

  /** An operator's command: lists the breakers, after a trip or reset if asked; refusals say why. */
  async operate(command: ControlBreaker): Promise<BreakerSummary[]> {
    if (command.op !== 'list') {
      if (command.op !== 'trip' && command.op !== 'reset')
        throw new Refusal('UnknownBreakerError', `unknown breaker operation "${command.op}"`);
      if (!command.name) throw new Refusal('UnknownBreakerError', `ratchet breaker ${command.op} needs a breaker name`);
      if (command.op === 'reset' && !this.list().some((b) => b.name === command.name)) {
        throw new Refusal(
          'UnknownBreakerError',
          `no breaker "${command.name}" (known: ${
            this.list()
              .map((b) => b.name)
              .join(', ') || 'none'
          })`,
        );
      }
      const forMs = command.forMs ?? 60_000;
      if (command.op === 'trip') {
        // A trip creates a breaker not seen before, so its name must be one a step could use;
        // and its end must be a time (an open breaker whose end is not a date breaks every reader).
        const problem = breakerNameProblem(command.name);
        if (problem !== undefined) throw new InvalidMessageError(`command ControlBreaker.name: ${problem}`);
        const latest = MAX_TIME_MS - this.#clock();
        if (!(forMs <= latest)) {
          throw new InvalidMessageError(
            `command ControlBreaker.forMs must be at most ${latest} (open until ${MAX_TIME_MS} ms, year 275760), got ${forMs}`,
          );
        }
      }
      await this.control(command.name, command.op, forMs);
    }
    return this.list();
  }

  list(): BreakerSummary[] {
    return [...this.#breakers.values()]
      .map(({ state }) => ({
        name: state.name,
        status: state.status,
        ...(state.openUntil === undefined ? {} : { openUntil: state.openUntil }),
        consecutiveFailures: state.consecutiveFailures,
        probesInFlight: state.probesInFlight,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  #get(name: string): BoardEntry {
    let breaker = this.#breakers.get(name);
    if (!breaker) {
      breaker = { state: closedBreaker(name), unstarted: [] };
      this.#breakers.set(name, breaker);
    }
    return breaker;
  }

  /** A transition starts the probe count afresh, and with it the leases. */
  #setState(breaker: BoardEntry, state: BreakerState, transitions: readonly BreakerEvent[]): void {
    if (transitions.length > 0) breaker.unstarted = [];
    breaker.state = state;
  }

  /** Gives back the slots of probes that did not start within their lease. */
  #expireUnstarted(breaker: BoardEntry, now: number): void {
    while (breaker.policy && breaker.unstarted.length > 0 && (breaker.unstarted[0] as number) <= now) {
      breaker.unstarted.shift();
      breaker.state = recordOutcome(breaker.state, breaker.policy, { ok: undefined, probe: true }, now).state;
    }
  }

  async #record(name: string, transitions: readonly BreakerEvent[]): Promise<void> {
    if (transitions.length > 0) await this.#store.appendBreakerEvents(name, transitions, this.#clock());
  }
}

/** A policy from the wire, checked before the engine runs a breaker on it. */
export function checkedBreakerPolicy(policy: ResolvedBreakerPolicy): ResolvedBreakerPolicy {
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;
  const ok =
    typeof policy === 'object' &&
    policy !== null &&
    typeof policy.cooldownMs === 'number' &&
    policy.cooldownMs >= 0 &&
    count(policy.halfOpenProbes) &&
    count(policy.successesToClose) &&
    (policy.failureThreshold === undefined || count(policy.failureThreshold)) &&
    (policy.failureThreshold !== undefined || policy.failureRate !== undefined);
  if (!ok) throw new Refusal('InvalidBreakerPolicyError', 'the breaker policy sent is not a resolved breaker policy');
  return policy;
}
