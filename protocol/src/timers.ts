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

/** Node's own timers. */
export const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
