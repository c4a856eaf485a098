import type { AdvanceJob, ForkJob, ForkJobReply, IdFactory } from '@ratchet/protocol';
import type { Dispatcher } from './dispatcher.ts';
import { forkLog } from './fork-log.ts';
import { type JobWriter, summarize, type Written } from './job-writer.ts';
import { Refusal } from './refusal.ts';
import type { WorkflowRegistry } from './workflow-registry.ts';

export interface ForkJobDeps {
  readonly writer: JobWriter;
  readonly dispatcher: Pick<Dispatcher, 'dispatch'>;
  readonly registry: WorkflowRegistry;
  readonly clock: () => number;
  readonly ids: IdFactory;
  /** Effects of a committed append (the engine's): timers of the prefix, observers. */
  readonly afterWrite: (written: Written) => void;
}

/**
 * Carries out `ForkJob`: reads the source's history, builds the fork's log ({@link forkLog}),
 * appends it as the new job's first append (one append, so the fork exists whole or not at all)
 * and dispatches it. The source job is not touched.
 */
export async function forkJob(command: ForkJob, deps: ForkJobDeps): Promise<ForkJobReply> {
  const forkId = command.forkJobId ?? deps.ids();
  if (forkId === command.jobId) throw new Refusal('InvalidForkError', `a fork needs a job id of its own, not ${command.jobId}`);
  const { state: source, events: history } = await deps.writer.history(command.jobId, 0);
  if (source.status === 'new') throw new Refusal('JobNotFoundError', `no job ${command.jobId}`);
  const known = deps.registry.known();
  if (known && !known.has(source.workflow)) {
    throw new Refusal(
      'UnknownWorkflowError',
      `no running worker has workflow "${source.workflow}" (known: ${[...known].sort().join(', ') || 'none'})`,
    );
  }
  let origin: ForkJobReply['forkedFrom'] | undefined;
  const written = await deps.writer.write(
    forkId,
    (state) => {
      if (state.status !== 'new') throw new Refusal('JobExistsError', `job ${forkId} exists already (${state.status})`);
      const plan = forkLog(history, {
        sourceId: command.jobId,
        forkId,
        from: command.from,
        now: deps.clock(),
        ...(command.setOutputs === undefined ? {} : { setOutputs: command.setOutputs }),
        ...(command.version === undefined ? {} : { version: command.version }),
      });
      origin = plan.origin;
      return plan.events;
    },
    { assumeNew: command.forkJobId === undefined },
  );
  deps.afterWrite(written);
  const { after } = written;
  // The worker starts from the log in the task when it is small, as for a new job.
  const log = written.events.map((event, i) => ({ seq: i + 1, recordedAt: after.updatedAt, event }));
  const task: AdvanceJob = { type: 'AdvanceJob', jobId: forkId, epoch: after.epoch, history: log };
  await deps.dispatcher.dispatch(task);
  return { jobId: forkId, job: summarize(after), forkedFrom: origin as ForkJobReply['forkedFrom'] };
}
