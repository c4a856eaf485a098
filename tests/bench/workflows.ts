// Workflows of the benchmark suite. Worker processes load this module
// (`ratchet worker --workflows tests/bench/workflows.ts`); in-process workers import it too.
import { appendFileSync } from 'node:fs';
import { defineWorkflow } from '@ratchet/sdk';

/** W1–W3: `steps` trivial steps, one after another; returns how many ran. */
export const trivialSteps = defineWorkflow('bench-trivial-steps', async (ctx, input: { readonly steps: number }) => {
  let sum = 0;
  for (let i = 0; i < input.steps; i++) sum += await ctx.step(`s${i}`, () => 1);
  return sum;
});

export interface RecoveryInput {
  /** Every real execution of a step appends "<step> <attempt> <pid>" here, before its work. */
  readonly file: string;
  readonly steps: number;
  readonly stepMs: number;
}

/** W4: `steps` steps of `stepMs` each, whose executions can be counted across processes. */
export const recovery = defineWorkflow('bench-recovery', async (ctx, input: RecoveryInput) => {
  for (let i = 1; i <= input.steps; i++) {
    await ctx.step(`step-${i}`, async ({ attempt }) => {
      appendFileSync(input.file, `step-${i} ${attempt} ${process.pid}\n`);
      await new Promise((resolve) => setTimeout(resolve, input.stepMs));
      return i;
    });
  }
  return input.steps;
});

/** Memory check: one step, then a durable sleep that outlasts the benchmark. */
export const parkedOnSleep = defineWorkflow('bench-parked-on-sleep', async (ctx, input: { readonly sleepMs: number }) => {
  await ctx.step('prepare', () => 1);
  await ctx.sleep(input.sleepMs);
  return 'woke';
});

/** Every workflow of this module, for in-process workers. */
export const benchWorkflows = [trivialSteps, recovery, parkedOnSleep];
