import type { AppendEvents, AppendEventsReply } from '@ratchet/protocol';
import { type EngineClient, EngineError } from '@ratchet/sdk';
import { TransportError } from '@ratchet/sdk/transport';

/** Appends one message carries at most; more wait for the next. */
const MAX_BATCH = 64;

interface Pending {
  readonly command: AppendEvents;
  /** The engine to send it to (see `AppendEventsReply.engine`), or undefined for any. */
  readonly engine: string | undefined;
  readonly resolve: (reply: AppendEventsReply) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends the appends a worker's runs make in one turn as one `AppendBatch` message. Under load the
 * runs woken by one commit append together, and a message per append (its framing, parsing,
 * envelope and reply) was a large share of a step's CPU; a lone append goes out as it is, a
 * microtask later. Each append still gets its own reply or refusal.
 */
export class AppendBatcher {
  readonly #engine: Pick<EngineClient, 'send'>;
  #pending: Pending[] = [];

  constructor(engine: Pick<EngineClient, 'send'>) {
    this.#engine = engine;
  }

  append(command: AppendEvents, engine?: string): Promise<AppendEventsReply> {
    // A batch is answered when its slowest append is, so those that may be slow go alone. A new
    // job's first append can reach an engine that does not see the job's start yet, which looks
    // again for up to ~150 ms before answering; a continuation is answered once its successor's
    // start has committed (a transaction of its own) and its first task is published (retried
    // for seconds while the queue is unwell).
    if (command.expectedSeq <= 1 || command.events.at(-1)?.type === 'JobContinued') return this.#engine.send(command, { engine });
    return new Promise((resolve, reject) => {
      this.#pending.push({ command, engine, resolve, reject });
      // The runs a shared turn wakes all append within the microtasks it starts.
      if (this.#pending.length === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
    const pending = this.#pending;
    this.#pending = [];
    // One batch per engine the appends are for (with one engine, all of them).
    const byEngine = new Map<string | undefined, Pending[]>();
    for (const one of pending) {
      const group = byEngine.get(one.engine);
      if (group) group.push(one);
      else byEngine.set(one.engine, [one]);
    }
    for (const [engine, group] of byEngine) {
      for (let i = 0; i < group.length; i += MAX_BATCH) this.#send(group.slice(i, i + MAX_BATCH), engine);
    }
  }

  #send(batch: readonly Pending[], engine: string | undefined): void {
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      this.#engine.send(only.command, { engine }).then(only.resolve, only.reject);
      return;
    }
    this.#engine.send({ type: 'AppendBatch', appends: batch.map((p) => p.command) }, { engine }).then(
      ({ results }) => {
        for (let i = 0; i < batch.length; i++) {
          const [pending, result] = [batch[i] as Pending, results[i]];
          if (result === undefined) pending.reject(new Error(`the engine answered ${results.length} of ${batch.length} appends`));
          else if (result.ok) pending.resolve(result.value);
          else pending.reject(new EngineError(result.error));
        }
      },
      (error: unknown) => {
        // Too large for one message, or an engine that predates batches: each on its own.
        if (!alone(error)) {
          for (const pending of batch) pending.reject(error);
          return;
        }
        for (const pending of batch) {
          this.#engine
            .send(pending.command, { engine })
            .then(pending.resolve, (refusal: unknown) => pending.reject(resentRefusal(error, refusal, pending.command)));
        }
      },
    );
  }
}

function alone(error: unknown): boolean {
  if (error instanceof TransportError) return error.code === 'too-large';
  return error instanceof EngineError && (error.name === 'PayloadTooLargeError' || error.name === 'InvalidMessageError');
}

/**
 * Why an append sent again on its own failed. The transport says `too-large` both for a request
 * it could not send and for a reply it could not deliver — and then the engine has carried the
 * batch out: the append is in the log, and sent again it conflicts with itself. A conflict is
 * then no sign that another delivery holds the job (on which the worker lets the task go, and
 * the job would wait for good): it is reported as an outcome unknown, like a timeout, so the task
 * comes back and its next holder reads what the log has.
 */
function resentRefusal(batchError: unknown, refusal: unknown, command: AppendEvents): unknown {
  const conflict = refusal instanceof EngineError && refusal.name === 'SeqConflictError';
  if (!(batchError instanceof TransportError) || !conflict) return refusal;
  return new TransportError(
    `${batchError.message}; sent again on its own, the append to job ${command.jobId} after seq ${command.expectedSeq} was refused (${refusal.message}), so the batch may have committed it`,
    'failed',
    { cause: batchError },
  );
}
