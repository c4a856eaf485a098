import { decode, parseTask } from '@ratchet/protocol';
import type { StepInfo } from '@ratchet/sdk';
import type { JobChange } from '../src/index.ts';
import { checkedFault, type Fault, type InjectedFault } from './faults.ts';

export interface FaultPlanOptions {
  readonly clock: () => number;
  /**
   * Kills the worker holding `jobId` and starts a fresh one (cutting the old one off before it
   * returns); false when there was no worker to kill.
   */
  readonly crash: (jobId: string) => boolean;
  /** Publishes the task `data` once more, under another message id. */
  readonly republish: (data: Uint8Array, jobId: string) => void;
}

/** The faults declared for an environment, applied where they take effect, and the record of each. */
export class FaultPlan {
  readonly #o: FaultPlanOptions;
  /** Faults with what is left of them: crashes and duplicates are used up, failed attempts are not. */
  readonly #faults: { fault: Fault; left: number }[] = [];
  readonly #injected: InjectedFault[] = [];

  constructor(options: FaultPlanOptions) {
    this.#o = options;
  }

  add(faults: readonly Fault[]): void {
    for (const fault of faults.map(checkedFault)) {
      const left = fault.kind === 'crash-after-step' ? 1 : fault.kind === 'deliver-twice' ? (fault.times ?? 1) : Number.POSITIVE_INFINITY;
      this.#faults.push({ fault, left });
    }
  }

  get injected(): readonly InjectedFault[] {
    return this.#injected;
  }

  /** Runs one step attempt, or fails it when a `fail-attempt` fault says so. */
  attempt(info: StepInfo, run: () => unknown): unknown {
    const planned = this.#take(
      (fault) => fault.kind === 'fail-attempt' && fault.step === info.name && fault.attempt === info.attempt,
      info.jobId,
    );
    if (planned?.kind !== 'fail-attempt') return run();
    const error = planned.error ?? new Error(`injected failure of attempt ${info.attempt} of step "${info.name}"`);
    this.#record(planned, info.jobId, `attempt ${info.attempt} of step "${info.name}" threw ${error.name}: ${error.message}`);
    throw error;
  }

  /** Sees every committed append: a completed step may be what a crash waits for. */
  committed(change: JobChange): void {
    const { state, events } = change;
    for (const { event } of events) {
      if (event.type !== 'StepCompleted') continue;
      const entry = state.journal[event.stepId];
      if (entry?.kind !== 'step') continue;
      const matches = (fault: Fault) => fault.kind === 'crash-after-step' && fault.step === entry.name;
      const planned = this.#take(matches, state.jobId);
      if (!planned) continue;
      if (!this.#o.crash(state.jobId)) {
        // No worker to kill (a fresh one is still starting): the fault waits for its next chance.
        this.#giveBack(planned);
        continue;
      }
      this.#record(planned, state.jobId, `worker crashed after step "${entry.name}" (attempt ${event.attempt}) completed`);
      return;
    }
  }

  /** Sees every task a worker acknowledged: a duplicate delivery republishes it. */
  acknowledged(data: Uint8Array): void {
    if (!this.#faults.some(({ fault, left }) => fault.kind === 'deliver-twice' && left > 0)) return;
    const task = parseTask(decode(data));
    const planned = this.#take((fault) => fault.kind === 'deliver-twice', task.jobId);
    if (!planned) return;
    this.#record(
      planned,
      task.jobId,
      `task AdvanceJob{epoch ${task.epoch}${task.seq === undefined ? '' : `, seq ${task.seq}`}} delivered again`,
    );
    this.#o.republish(data, task.jobId);
  }

  /** The first fault with uses left that matches `jobId` and `matches`, with one use taken. */
  #take(matches: (fault: Fault) => boolean, jobId: string): Fault | undefined {
    for (const planned of this.#faults) {
      const { fault } = planned;
      if (planned.left <= 0 || (fault.jobId !== undefined && fault.jobId !== jobId) || !matches(fault)) continue;
      planned.left -= 1;
      return fault;
    }
    return undefined;
  }

  #giveBack(fault: Fault): void {
    const planned = this.#faults.find((candidate) => candidate.fault === fault);
    if (planned) planned.left += 1;
  }

  #record(fault: Fault, jobId: string, detail: string): void {
    this.#injected.push({ fault, jobId, at: this.#o.clock(), detail });
  }
}
