import {
  admit,
  applyBreakerEvent,
  type BreakerAdmission,
  type BreakerEvent,
  type BreakerSummary,
  breakerNameProblem,
  type ControlBreaker,
  InvalidMessageError,
  type JobEvent,
  type JobState,
  MAX_TIME_MS,
  probeStarted,
  type ResolvedBreakerPolicy,
  recordOutcome,
} from '@ratchet/protocol';
import type { EventStore } from '@ratchet/store';
import { Refusal } from './refusal.ts';
import { type BreakerDecision, SharedBreaker } from './shared-breaker.ts';

/**
 * The engine's breakers: protocol's pure `admit`/`recordOutcome` run on each breaker's row in the
 * store, which every engine replica reads and writes (see {@link SharedBreaker}), so counts,
 * probes in flight and their leases are one breaker's wherever the worker's request lands. A
 * transition is written to the breaker's stream in the same statement as the row, before anyone
 * acts on it.
 */
export class BreakerBoard {
  readonly #store: EventStore;
  readonly #clock: () => number;
  readonly #breakers = new Map<string, SharedBreaker>();
  readonly #probeStartLeaseMs: number;

  /** `probeStartLeaseMs`: how long an admitted probe may take to start (see `EngineOptions`). */
  constructor(options: { store: EventStore; clock: () => number; probeStartLeaseMs?: number | undefined }) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#probeStartLeaseMs = options.probeStartLeaseMs ?? 10_000;
  }

  acquire(name: string, policy: ResolvedBreakerPolicy): Promise<BreakerAdmission> {
    return this.#change(name, ({ state }, now) => {
      const admission = admit(state, policy, now, this.#probeStartLeaseMs);
      return {
        state: admission.state,
        policy,
        transitions: admission.transitions,
        result: {
          admitted: admission.admitted,
          probe: admission.probe,
          ...(admission.retryAt === undefined ? {} : { retryAt: admission.retryAt }),
        },
      };
    });
  }

  /** An admitted call ended: `ok` undefined when it ended without an outcome (its worker was lost). */
  report(name: string, outcome: { ok: boolean | undefined; probe: boolean }): Promise<void> {
    return this.#change(name, ({ state, policy }, now) => {
      // Outcomes are judged by the policy of the admissions; a breaker that admitted nothing has none.
      if (policy === undefined) return { state, transitions: [], result: undefined };
      return { ...recordOutcome(state, policy, outcome, now), result: undefined };
    });
  }

  /** Tells the breakers how the attempts they admitted ended; `onError` hears of outcomes that could not be recorded. */
  reportAttempts(before: JobState, events: readonly JobEvent[], onError: (error: unknown, breaker: string) => void): void {
    for (const event of events) {
      // A probe in the log: its end will be reported, so its slot is no longer on a lease.
      if (event.type === 'StepStarted' && event.probe === true && event.breaker !== undefined) {
        const breaker = event.breaker;
        void this.#change(breaker, ({ state }) => ({ state: probeStarted(state), transitions: [], result: undefined })).catch(
          (error: unknown) => onError(error, breaker),
        );
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
    return this.#change(name, ({ state }, now) => {
      const event: BreakerEvent =
        op === 'trip'
          ? { type: 'BreakerOpened', until: now + forMs, reason: 'tripped by an operator' }
          : { type: 'BreakerClosed', reason: 'reset by an operator' };
      return { state: applyBreakerEvent(state, event), transitions: [event], result: undefined };
    });
  }

  /** An operator's command: lists the breakers, after a trip or reset if asked; refusals say why. */
  async operate(command: ControlBreaker): Promise<BreakerSummary[]> {
    if (command.op !== 'list') {
      if (command.op !== 'trip' && command.op !== 'reset')
        throw new Refusal('UnknownBreakerError', `unknown breaker operation "${command.op}"`);
      if (!command.name) throw new Refusal('UnknownBreakerError', `ratchet breaker ${command.op} needs a breaker name`);
      if (command.op === 'reset') {
        const known = await this.list();
        if (!known.some((b) => b.name === command.name)) {
          throw new Refusal(
            'UnknownBreakerError',
            `no breaker "${command.name}" (known: ${known.map((b) => b.name).join(', ') || 'none'})`,
          );
        }
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

  /** Every breaker as the store has it now (whichever engine wrote it last). */
  async list(): Promise<BreakerSummary[]> {
    const rows = await this.#store.listBreakers();
    return rows
      .map(({ state }) => ({
        name: state.name,
        status: state.status,
        ...(state.openUntil === undefined ? {} : { openUntil: state.openUntil }),
        consecutiveFailures: state.consecutiveFailures,
        probesInFlight: state.probesInFlight,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Resolves once every change asked for so far is written (or failed). */
  async idle(): Promise<void> {
    await Promise.all([...this.#breakers.values()].map((breaker) => breaker.idle()));
  }

  #change<T>(name: string, decide: BreakerDecision<T>): Promise<T> {
    let breaker = this.#breakers.get(name);
    if (!breaker) {
      breaker = new SharedBreaker({ name, store: this.#store, clock: this.#clock });
      this.#breakers.set(name, breaker);
    }
    return breaker.change(decide);
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
