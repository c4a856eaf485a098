import { defineWorkflow } from '@ratchet/sdk';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../harness/index.ts';

/** Every real execution of a step, as "<jobId> <step> <attempt>". */
const executions: string[] = [];

const chain = defineWorkflow('pg-drop-chain', async (ctx, input: { steps: number }) => {
  let total = 0;
  for (let i = 1; i <= input.steps; i++) {
    total += await ctx.step(`s${i}`, async ({ attempt }) => {
      executions.push(`${ctx.jobId} s${i} ${attempt}`);
      await new Promise((resolve) => setTimeout(resolve, 15));
      return i;
    });
  }
  return total;
});

describe('the engine losing its Postgres connections mid-load', () => {
  let stack: Stack;
  let admin: postgres.Sql;
  beforeAll(async () => {
    stack = await startStack('postgres+nats');
    await stack.startWorker([chain] as never);
    admin = postgres(stack.env.DATABASE_URL as string, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin.end();
    await stack.close();
  });

  it('finishes every job, each step completed once, and runs no step that completed again', async () => {
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => stack.client.start(chain, { steps: 10 }, { jobId: `drop-${i}` })));
    // Cut every connection the engine holds, four times while the jobs run (each in the middle
    // of some commit, most likely): postgres.js opens new ones for the next queries.
    for (let cut = 0; cut < 4; cut++) {
      await new Promise((resolve) => setTimeout(resolve, 80));
      await admin.unsafe(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
    }
    const results = await Promise.all(jobs.map((job) => job.result({ timeout: '40s' })));
    expect(results).toEqual(jobs.map(() => 55));
    for (const job of jobs) {
      const log = (await stack.store.read(job.jobId)).map((e) => e.event);
      const completed = log.flatMap((e) => (e.type === 'StepCompleted' ? [e.stepId] : []));
      expect(completed, job.jobId).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // A step ran again only as a new attempt the log records (one whose outcome was lost with
      // a connection), never after its completion was committed.
      const ran = executions.filter((line) => line.startsWith(`${job.jobId} `));
      const started = log.filter((e) => e.type === 'StepStarted').length;
      expect(ran.length, job.jobId).toBeLessThanOrEqual(started);
    }
  }, 60_000);
});
