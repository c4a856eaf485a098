import { describe, expect, it } from 'vitest';
import {
  admit,
  applyBreakerEvent,
  closedBreaker,
  expireProbeLeases,
  foldBreakerEvents,
  probeStarted,
  recordOutcome,
  resolveBreakerPolicy,
} from '../src/index.ts';

/** How long an admitted probe may take to start. */
const LEASE = 10_000;

describe('the breaker state machine', () => {
  const policy = resolveBreakerPolicy('p', { failureThreshold: 2, cooldown: 1000, halfOpenProbes: 1, successesToClose: 2 });

  it('opens after consecutive failures, half-opens after the cooldown and closes after enough probe successes', () => {
    let state = closedBreaker('p');
    state = recordOutcome(state, policy, { ok: false, probe: false }, 0).state;
    const opened = recordOutcome(state, policy, { ok: false, probe: false }, 10);
    expect(opened.transitions).toEqual([{ type: 'BreakerOpened', until: 1010, reason: '2 failures in a row' }]);
    expect(admit(opened.state, policy, 500, LEASE)).toMatchObject({ admitted: false, retryAt: 1010 });
    const probe = admit(opened.state, policy, 1010, LEASE);
    expect(probe).toMatchObject({ admitted: true, probe: true, transitions: [{ type: 'BreakerHalfOpened' }] });
    // One probe at a time.
    expect(admit(probe.state, policy, 1011, LEASE)).toMatchObject({ admitted: false });
    const one = recordOutcome(probe.state, policy, { ok: true, probe: true }, 1020);
    expect(one.transitions).toEqual([]);
    const second = admit(one.state, policy, 1021, LEASE);
    const closed = recordOutcome(second.state, policy, { ok: true, probe: true }, 1030);
    expect(closed.transitions).toEqual([{ type: 'BreakerClosed', reason: '2 probes succeeded' }]);
  });

  it('has a job blocked behind a half-open breaker ask again after as long as it has been half-open, at most its cooldown', () => {
    const slow = resolveBreakerPolicy('s', { failureThreshold: 1, cooldown: 30_000, halfOpenProbes: 1 });
    const open = recordOutcome(closedBreaker('s'), slow, { ok: false, probe: false }, 0);
    const probe = admit(open.state, slow, 40_000, LEASE); // half-opens 10 s after its cooldown ended
    expect(probe).toMatchObject({ admitted: true, probe: true });
    const hanging = probeStarted(probe.state); // started, and never ends
    const waits = [40_000, 40_010, 40_500, 42_000, 50_000, 100_000].map((now) => {
      const asked = admit(hanging, slow, now, LEASE);
      expect(asked.admitted).toBe(false);
      return (asked.retryAt as number) - now;
    });
    // Counted from when it half-opened here (40 s), not from the end of the cooldown.
    expect(waits).toEqual([50, 50, 500, 2000, 10_000, 30_000]);
    // A breaker read back from its stream knows only when its cooldown ended.
    const { halfOpenedAt: _at, ...reloaded } = hanging;
    expect((admit(reloaded, slow, 45_000, LEASE).retryAt as number) - 45_000).toBe(15_000);
  });

  it('reopens when a probe fails, and frees a probe slot whose worker was lost', () => {
    const open = recordOutcome(
      recordOutcome(closedBreaker('p'), policy, { ok: false, probe: false }, 0).state,
      policy,
      { ok: false, probe: false },
      0,
    );
    const probe = admit(open.state, policy, 2000, LEASE);
    expect(recordOutcome(probe.state, policy, { ok: undefined, probe: true }, 2001).state.probesInFlight).toBe(0);
    expect(recordOutcome(probe.state, policy, { ok: false, probe: true }, 2001).transitions).toMatchObject([
      { type: 'BreakerOpened', until: 3001 },
    ]);
  });

  it('opens on a failure rate over a window once enough calls were made', () => {
    const rate = resolveBreakerPolicy('r', { failureRate: { threshold: 0.5, minimumCalls: 4, window: 10_000 }, cooldown: 100 });
    let state = closedBreaker('r');
    const outcomes = [true, false, true, false];
    for (const [i, ok] of outcomes.entries()) state = recordOutcome(state, rate, { ok, probe: false }, i).state;
    expect(state.status).toBe('closed'); // 2 of 4 is not over half
    expect(recordOutcome(state, rate, { ok: false, probe: false }, 5).transitions).toMatchObject([
      { type: 'BreakerOpened', reason: '3 of the last 5 calls failed' },
    ]);
  });

  it('gives back the slot of a probe not started within its lease, and keeps the slot of one that started', () => {
    const two = resolveBreakerPolicy('l', { failureThreshold: 1, cooldown: 100, halfOpenProbes: 2 });
    const open = recordOutcome(closedBreaker('l'), two, { ok: false, probe: false }, 0).state;
    const first = admit(open, two, 100, 1000);
    const second = admit(first.state, two, 200, 1000);
    expect(second.state).toMatchObject({ status: 'half-open', probesInFlight: 2, probeLeases: [1100, 1200] });
    expect(admit(second.state, two, 1099, 1000)).toMatchObject({ admitted: false });
    // The first probe started; the second's worker died before starting it.
    const started = probeStarted(second.state);
    expect(started.probeLeases).toEqual([1200]);
    expect(admit(started, two, 1199, 1000)).toMatchObject({ admitted: false });
    const third = admit(started, two, 1200, 1000);
    expect(third).toMatchObject({ admitted: true, probe: true, state: { probesInFlight: 2, probeLeases: [2200] } });
    expect(expireProbeLeases(third.state, 2200)).toMatchObject({ probesInFlight: 1, probeLeases: [] });
    // A transition starts the count afresh, leases included.
    expect(applyBreakerEvent(third.state, { type: 'BreakerClosed', reason: 'reset' })).toMatchObject({
      probesInFlight: 0,
      probeLeases: [],
    });
  });

  it('folds a stream into the state an engine of an older version left in it alone', () => {
    const state = foldBreakerEvents('f', [
      { type: 'BreakerOpened', until: 500, reason: '3 failures in a row' },
      { type: 'BreakerHalfOpened' },
      { type: 'BreakerOpened', until: 900, reason: 'a half-open probe failed' },
    ]);
    expect(state).toEqual({ ...closedBreaker('f'), status: 'open', openUntil: 900 });
  });
});
