import { defineWorkflow } from '@ratchet/sdk';
import type { EventStore } from '@ratchet/store';
import { expect } from 'vitest';

/**
 * A workflow of `input.steps` steps of `stepMs` each, returning 1 + 2 + … + steps, whose every real
 * step execution is recorded in `executions` as "<jobId> s<n>": what a fault test checks the log
 * against.
 */
export function countedSteps(name: string, stepMs: number) {
  const executions: string[] = [];
  const workflow = defineWorkflow(name, async (ctx, input: { steps: number }) => {
    let total = 0;
    for (let i = 1; i <= input.steps; i++) {
      total += await ctx.step(`s${i}`, async () => {
        executions.push(`${ctx.jobId} s${i}`);
        await new Promise((resolve) => setTimeout(resolve, stepMs));
        return i;
      });
    }
    return total;
  });
  return { workflow, executions };
}

/**
 * Each job's log completed every one of its `steps` steps once, and no step ran more often than the
 * log started it: a step ran again only as a new attempt the log records (one whose outcome was
 * lost with a connection or a server), never after its completion was committed.
 */
export async function expectEachStepOnce(
  store: Pick<EventStore, 'read'>,
  jobIds: readonly string[],
  steps: number,
  executions: readonly string[],
): Promise<void> {
  for (const jobId of jobIds) {
    const log = (await store.read(jobId)).map((e) => e.event);
    const completed = log.flatMap((e) => (e.type === 'StepCompleted' ? [e.stepId] : []));
    expect(completed, jobId).toEqual(Array.from({ length: steps }, (_, i) => i));
    const ran = executions.filter((line) => line.startsWith(`${jobId} `));
    expect(ran.length, jobId).toBeLessThanOrEqual(log.filter((e) => e.type === 'StepStarted').length);
  }
}
