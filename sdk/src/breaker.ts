import { type BreakerPolicy, breakerNameProblem, type ResolvedBreakerPolicy, resolveBreakerPolicy } from '@ratchet/protocol';

/** A named circuit breaker shared by every worker and job; steps opt in with `{ breaker }`. */
export interface Breaker {
  readonly name: string;
  readonly policy: ResolvedBreakerPolicy;
}

/**
 * Defines a breaker. Its policy is checked here (a threshold of 0 or a negative cooldown is an
 * `InvalidBreakerPolicyError` naming the field). Register it with the worker, then guard steps:
 *
 * @example
 * export const payments = defineBreaker('payments', { failureThreshold: 5, cooldown: '30s' });
 * await ctx.step('charge', charge, { breaker: 'payments' }); // parked while open
 * await ctx.step('charge', charge, { breaker: payments, onOpen: 'fail' }); // CircuitOpenError while open
 */
export function defineBreaker(name: string, policy: BreakerPolicy): Breaker {
  const problem = breakerNameProblem(name);
  if (problem !== undefined) throw new RangeError(problem);
  return Object.freeze({ name, policy: resolveBreakerPolicy(name, policy) });
}
