import { Engine } from '@ratchet/engine';
import { defineWorkflow } from '@ratchet/sdk';
import type { AppendRequest, EventStore } from '@ratchet/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietLogger, STACK_KINDS, type Stack, startStack } from '../harness/index.ts';

/** Every real execution of a step, as "<jobId> <step>". */
const executions: string[] = [];

const threeSteps = defineWorkflow('lost-reply', async (ctx) => {
  let total = 0;
  for (const n of [1, 2, 3]) {
    total += await ctx.step(`s${n}`, () => {
      executions.push(`${ctx.jobId} s${n}`);
      return n;
    });
  }
  return total;
});

/**
 * The real store, except that the chosen appends commit and then fail as if the connection broke
 * before the answer came back: the commit's outcome is unknown to the engine.
 */
function losingAnswers(store: EventStore, lose: (requests: readonly AppendRequest[]) => boolean): EventStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'append') {
        return async (requests: readonly AppendRequest[]) => {
          const results = await target.append(requests);
          if (lose(requests)) throw new Error('read ECONNRESET (the connection broke before the commit was answered)');
          return results;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.each(STACK_KINDS)('a commit whose answer is lost, on %s', (kind) => {
  let stack: Stack;
  /** Appends of the job still to lose, by job id. */
  const toLose = new Map<string, number>();
  beforeAll(async () => {
    stack = await startStack(kind);
    await stack.engine.stop();
    const store = losingAnswers(stack.store, (requests) =>
      requests.some((request) => {
        const left = toLose.get(request.jobId) ?? 0;
        // Not the job's creation: its client would see the error (a start is the client's to retry).
        if (left === 0 || request.expectedSeq === 0) return false;
        toLose.set(request.jobId, left - 1);
        return true;
      }),
    );
    stack.engine = new Engine({ store, transport: stack.transport, prefix: stack.prefix, logger: quietLogger() });
    await stack.engine.start();
    // A long ack wait: were the append given up on, the job would wait this long for its task.
    await stack.startWorker([threeSteps] as never, { ackWaitMs: 20_000 });
  });
  afterAll(() => stack.close());

  it('is found in the log and answered as committed: the job goes on at once, and no step runs twice', async () => {
    const jobId = `lost-${kind.split('+')[0]}`;
    toLose.set(jobId, 3);
    const job = await stack.client.start(threeSteps, {}, { jobId });
    await expect(job.result({ timeout: '5s' })).resolves.toBe(6);
    expect(toLose.get(jobId)).toBe(0);
    const log = (await stack.store.read(jobId)).map((e) => e.event.type);
    expect(log).toEqual([
      'JobStarted',
      'StepStarted',
      'StepCompleted',
      'StepStarted',
      'StepCompleted',
      'StepStarted',
      'StepCompleted',
      'JobCompleted',
    ]);
    expect(executions.filter((line) => line.startsWith(`${jobId} `))).toEqual([`${jobId} s1`, `${jobId} s2`, `${jobId} s3`]);
  });
});
