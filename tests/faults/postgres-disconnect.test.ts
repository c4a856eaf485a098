import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../harness/index.ts';
import { countedSteps, expectEachStepOnce } from './counted-steps.ts';

const { workflow: chain, executions } = countedSteps('pg-drop-chain', 15);

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
    await expectEachStepOnce(
      stack.store,
      jobs.map((job) => job.jobId),
      10,
      executions,
    );
  }, 60_000);
});
