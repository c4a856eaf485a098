import type { ResolvedBreakerPolicy } from './breaker-policy.ts';

/** A transition of a breaker, as recorded in its own stream. */
export type BreakerEvent =
  | { readonly type: 'BreakerOpened'; readonly until: number; readonly reason: string }
  | { readonly type: 'BreakerHalfOpened' }
  | { readonly type: 'BreakerClosed'; readonly reason: string };

/**
 * Everything a breaker's decisions depend on: its status and the counts between transitions. The
 * engine keeps it in the breaker's row, shared by every engine replica; the transitions are also
 * events in the breaker's own stream.
 */
export interface BreakerState {
  readonly name: string;
  readonly status: 'closed' | 'open' | 'half-open';
  /** When an open breaker half-opens. */
  readonly openUntil?: number;
  /** When it half-opened (a breaker folded from its stream alone has none). */
  readonly halfOpenedAt?: number;
  readonly consecutiveFailures: number;
  /** Outcomes within the failure-rate window (closed), oldest first. */
  readonly recent: readonly { readonly at: number; readonly ok: boolean }[];
  /** Probes let through and not yet reported (half-open). */
  readonly probesInFlight: number;
  readonly probeSuccesses: number;
  /**
   * When each probe admitted and not yet seen starting loses its slot, oldest first. Once in a
   * job's log, a probe's end is recorded whatever happens to its worker (a claim records a lost
   * attempt); one whose worker died, stopped or was fenced off before its `StepStarted` would
   * hold its slot forever, and the half-open breaker would admit nothing more.
   */
  readonly probeLeases: readonly number[];
}

/** What a caller may do now, and the state after asking. */
export interface Admission {
  readonly state: BreakerState;
  readonly admitted: boolean;
  /** The call is a half-open probe. */
  readonly probe: boolean;
  /** When to ask again, if not admitted. */
  readonly retryAt?: number;
  readonly transitions: readonly BreakerEvent[];
}

export function closedBreaker(name: string): BreakerState {
  return { name, status: 'closed', consecutiveFailures: 0, recent: [], probesInFlight: 0, probeSuccesses: 0, probeLeases: [] };
}

/** Applies a recorded transition (replaying a breaker's stream). A transition starts the probe count afresh, and with it the leases. */
export function applyBreakerEvent(state: BreakerState, event: BreakerEvent): BreakerState {
  const fresh = { probesInFlight: 0, probeSuccesses: 0, probeLeases: [] };
  switch (event.type) {
    case 'BreakerOpened':
      return { ...state, ...fresh, status: 'open', openUntil: event.until, consecutiveFailures: 0, recent: [] };
    case 'BreakerHalfOpened':
      return { ...state, ...fresh, status: 'half-open' };
    case 'BreakerClosed': {
      const { openUntil: _until, halfOpenedAt: _at, ...rest } = state;
      return { ...rest, ...fresh, status: 'closed', consecutiveFailures: 0, recent: [] };
    }
  }
}

/** Folds a breaker's stream (its transitions, oldest first) into its state. */
export function foldBreakerEvents(name: string, events: Iterable<BreakerEvent>): BreakerState {
  let state = closedBreaker(name);
  for (const event of events) state = applyBreakerEvent(state, event);
  return state;
}

/**
 * Gives back the slots of half-open probes admitted but not started by `now` (see
 * {@link BreakerState.probeLeases}).
 */
export function expireProbeLeases(state: BreakerState, now: number): BreakerState {
  const probeLeases = state.probeLeases.filter((until) => until > now);
  const count = state.probeLeases.length - probeLeases.length;
  if (count === 0) return state;
  return {
    ...state,
    probeLeases,
    probesInFlight: state.status === 'half-open' ? Math.max(0, state.probesInFlight - count) : state.probesInFlight,
  };
}

/**
 * A probe's `StepStarted` is in its job's log: its end will be reported, so its slot is no longer
 * on a lease. Probes are not told apart: the oldest lease goes.
 */
export function probeStarted(state: BreakerState): BreakerState {
  return state.probeLeases.length === 0 ? state : { ...state, probeLeases: state.probeLeases.slice(1) };
}

/**
 * Decides whether a guarded call may run now. Pure: same state, policy and time, same answer. A
 * probe it admits holds its slot on a lease of `probeStartLeaseMs` until its `StepStarted` is
 * seen ({@link probeStarted}); slots whose lease ran out are given back first.
 */
export function admit(state: BreakerState, policy: ResolvedBreakerPolicy, now: number, probeStartLeaseMs: number): Admission {
  const transitions: BreakerEvent[] = [];
  let s = expireProbeLeases(state, now);
  if (s.status === 'open' && now >= (s.openUntil ?? 0)) {
    const halfOpened: BreakerEvent = { type: 'BreakerHalfOpened' };
    transitions.push(halfOpened);
    s = { ...applyBreakerEvent(s, halfOpened), halfOpenedAt: now };
  }
  if (s.status === 'closed') return { state: s, admitted: true, probe: false, transitions };
  if (s.status === 'open') return { state: s, admitted: false, probe: false, retryAt: s.openUntil as number, transitions };
  if (s.probesInFlight < policy.halfOpenProbes) {
    const probeLeases = [...s.probeLeases, now + probeStartLeaseMs];
    return { state: { ...s, probesInFlight: s.probesInFlight + 1, probeLeases }, admitted: true, probe: true, transitions };
  }
  // Half-open with every probe slot taken: look again after as long as it has been half-open (at
  // least 50 ms, at most its cooldown). A quick probe's end is seen soon; a probe that hangs
  // costs each parked job a few asks (each a StepBlocked and a TimerFired in its log), not one
  // a second: over a day-long outage that was tens of thousands of events a job, past the
  // history limit.
  const since = now - (s.halfOpenedAt ?? s.openUntil ?? now);
  return { state: s, admitted: false, probe: false, retryAt: now + Math.max(50, Math.min(policy.cooldownMs, since)), transitions };
}

/** Records the outcome of a call that was admitted; `ok` undefined means it ended without one (worker lost). */
export function recordOutcome(
  state: BreakerState,
  policy: ResolvedBreakerPolicy,
  outcome: { readonly ok: boolean | undefined; readonly probe: boolean },
  now: number,
): { readonly state: BreakerState; readonly transitions: readonly BreakerEvent[] } {
  const open = (reason: string) => {
    const event: BreakerEvent = { type: 'BreakerOpened', until: now + policy.cooldownMs, reason };
    return { state: applyBreakerEvent(state, event), transitions: [event] };
  };
  if (outcome.probe) {
    if (state.status !== 'half-open') return { state, transitions: [] };
    const released = { ...state, probesInFlight: Math.max(0, state.probesInFlight - 1) };
    if (outcome.ok === undefined) return { state: released, transitions: [] };
    if (!outcome.ok) return open('a half-open probe failed');
    const successes = released.probeSuccesses + 1;
    if (successes >= policy.successesToClose) {
      const event: BreakerEvent = { type: 'BreakerClosed', reason: `${successes} probe${successes === 1 ? '' : 's'} succeeded` };
      return { state: applyBreakerEvent(released, event), transitions: [event] };
    }
    return { state: { ...released, probeSuccesses: successes }, transitions: [] };
  }
  if (state.status !== 'closed' || outcome.ok === undefined) return { state, transitions: [] };
  const consecutiveFailures = outcome.ok ? 0 : state.consecutiveFailures + 1;
  const windowStart = now - (policy.failureRate?.windowMs ?? 0);
  const recent = policy.failureRate ? [...state.recent.filter((r) => r.at > windowStart), { at: now, ok: outcome.ok }] : [];
  if (policy.failureThreshold !== undefined && consecutiveFailures >= policy.failureThreshold) {
    return open(`${consecutiveFailures} failures in a row`);
  }
  if (policy.failureRate && recent.length >= policy.failureRate.minimumCalls) {
    const failures = recent.filter((r) => !r.ok).length;
    if (failures / recent.length > policy.failureRate.threshold) {
      return open(`${failures} of the last ${recent.length} calls failed`);
    }
  }
  return { state: { ...state, consecutiveFailures, recent }, transitions: [] };
}
