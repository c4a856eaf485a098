/**
 * Where engine and worker get their wake-ups: `setTimeout`/`clearTimeout` semantics behind a
 * seam, so a test environment can run them on a virtual clock (a 30-day sleep then completes at
 * once). Production code uses {@link REAL_TIMERS}. Paired with an injected `clock`, which must
 * tell the same time as the timers.
 */
export interface Timers {
  /** Calls `callback` once, `ms` from now (at once for 0 or less). Returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a pending `setTimeout`; a handle that already fired or is undefined is ignored. */
  clearTimeout(handle: unknown): void;
}

/** The longest delay a Node timer keeps (2^31-1 ms, about 24.8 days); past it Node fires at once. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * Node's own timers. A delay past 2^31-1 ms fires at that bound instead of at once (as Node's
 * own would): early, never in a loop, so a caller waiting longer looks at the clock and waits again.
 */
export const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, Math.min(ms, MAX_DELAY_MS)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
