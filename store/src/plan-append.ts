import { encode } from '@ratchet/protocol';
import type { AppendRequest } from './event-store.ts';

/**
 * A batch of append requests turned into columns, one array per column, so the whole batch is
 * written by one SQL statement with a fixed text (`unnest` of array parameters): one prepared
 * statement whatever the batch size, and no 65,535-parameter limit to chunk around.
 */
export interface AppendPlan {
  /**
   * Per request: true when it takes part in its job's write (and so succeeds exactly when the
   * job's write wins); false when it already lost inside the batch.
   */
  readonly joined: readonly boolean[];
  /** One row per job: the expected seq of its first request, the row of its last. */
  readonly jobs: {
    readonly jobId: string[];
    readonly expectedSeq: number[];
    readonly workflow: string[];
    readonly version: string[];
    readonly status: string[];
    readonly epoch: number[];
    readonly lastSeq: number[];
    readonly startedAt: number[];
    readonly updatedAt: number[];
    readonly finishedAt: (number | null)[];
    /** The job whose win this job's creation depends on, or null. */
    readonly requires: (string | null)[];
  };
  readonly events: {
    readonly jobId: string[];
    readonly seq: number[];
    readonly type: string[];
    /** MessagePack as hex: postgres.js types a bytea array parameter wrongly, text travels everywhere. */
    readonly data: string[];
    readonly recordedAt: number[];
  };
  readonly addedTimers: { readonly jobId: string[]; readonly timerId: string[]; readonly fireAt: number[] };
  readonly removedTimers: { readonly jobId: string[]; readonly timerId: string[] };
}

interface JobWrite {
  nextSeq: number;
  readonly expectedSeq: number;
  last: AppendRequest;
  /** What the job's creation requires: the first request's (the one that creates), not the last's. */
  readonly requires: string | null;
  /** timer id → fire time, or null when the batch removes it; the last mention wins. */
  readonly timers: Map<string, number | null>;
}

/**
 * Plans a batch. Several requests for one job chain when each extends the previous one's end
 * (`expectedSeq` = previous `expectedSeq` + its event count): they are written together and
 * stand or fall together. A request that does not chain loses (`joined` false) — conservative,
 * since the store cannot tell without reading whether it would have won on its own.
 *
 * @throws RangeError when a request contradicts itself (its job row is for another job, or its
 *   `lastSeq` is not `expectedSeq` plus its event count): an engine bug, refused before any write.
 */
export function planAppend(requests: readonly AppendRequest[]): AppendPlan {
  const plan: AppendPlan = {
    joined: [],
    jobs: {
      jobId: [],
      expectedSeq: [],
      workflow: [],
      version: [],
      status: [],
      epoch: [],
      lastSeq: [],
      startedAt: [],
      updatedAt: [],
      finishedAt: [],
      requires: [],
    },
    events: { jobId: [], seq: [], type: [], data: [], recordedAt: [] },
    addedTimers: { jobId: [], timerId: [], fireAt: [] },
    removedTimers: { jobId: [], timerId: [] },
  };
  const writes = new Map<string, JobWrite>();
  for (const request of requests) {
    checkRequest(request);
    let write = writes.get(request.jobId);
    if (write === undefined) {
      write = {
        expectedSeq: request.expectedSeq,
        nextSeq: request.expectedSeq,
        last: request,
        requires: request.requires ?? null,
        timers: new Map(),
      };
      writes.set(request.jobId, write);
    } else if (request.expectedSeq !== write.nextSeq) {
      (plan.joined as boolean[]).push(false);
      continue;
    }
    (plan.joined as boolean[]).push(true);
    write.last = request;
    const events = plan.events;
    for (const event of request.events) {
      write.nextSeq += 1;
      events.jobId.push(request.jobId);
      events.seq.push(write.nextSeq);
      events.type.push(event.type);
      events.data.push(toHex(encode(event)));
      events.recordedAt.push(request.recordedAt);
    }
    // Within a request removals apply after additions: a timer started and cancelled by the
    // same events is gone.
    for (const timer of request.timers.added) write.timers.set(timer.timerId, timer.fireAt);
    for (const timerId of request.timers.removed) write.timers.set(timerId, null);
  }
  for (const [jobId, write] of writes) {
    const { job } = write.last;
    const jobs = plan.jobs;
    jobs.jobId.push(jobId);
    jobs.expectedSeq.push(write.expectedSeq);
    jobs.workflow.push(job.workflow);
    jobs.version.push(job.version);
    jobs.status.push(job.status);
    jobs.epoch.push(job.epoch);
    jobs.lastSeq.push(job.lastSeq);
    jobs.startedAt.push(job.startedAt);
    jobs.updatedAt.push(job.updatedAt);
    jobs.finishedAt.push(job.finishedAt ?? null);
    jobs.requires.push(write.requires);
    for (const [timerId, fireAt] of write.timers) {
      if (fireAt === null) {
        plan.removedTimers.jobId.push(jobId);
        plan.removedTimers.timerId.push(timerId);
      } else {
        plan.addedTimers.jobId.push(jobId);
        plan.addedTimers.timerId.push(timerId);
        plan.addedTimers.fireAt.push(fireAt);
      }
    }
  }
  return plan;
}

function checkRequest(request: AppendRequest): void {
  const { jobId, expectedSeq, events, job } = request;
  if (!Number.isSafeInteger(expectedSeq) || expectedSeq < 0) {
    throw new RangeError(`append to job ${jobId}: expectedSeq ${expectedSeq} is not a non-negative integer`);
  }
  if (job.jobId !== jobId) throw new RangeError(`append to job ${jobId}: its job row is for job ${job.jobId}`);
  // The row's last_seq is what the next append is checked against, so it must match the log.
  if (job.lastSeq !== expectedSeq + events.length) {
    throw new RangeError(`append to job ${jobId}: job.lastSeq ${job.lastSeq} is not expectedSeq ${expectedSeq} + ${events.length} events`);
  }
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
