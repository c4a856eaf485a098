import {
  type CommandReplies,
  decode,
  type EngineCommand,
  encode,
  type ReadHistoryReply,
  type RecordedEvent,
  type Reply,
  type Subjects,
} from '@ratchet/protocol';
import { EngineError } from './errors.ts';
import type { Transport } from './transport/index.ts';

/**
 * Typed request/reply to the engine: one method, keyed by command type. Refusals arrive as
 * {@link EngineError}s carrying the engine's error name; transport failures as `TransportError`.
 */
export class EngineClient {
  readonly #transport: Transport;
  readonly #subject: string;
  readonly #timeoutMs: number;

  constructor(options: { readonly transport: Transport; readonly subjects: Subjects; readonly timeoutMs?: number }) {
    this.#transport = options.transport;
    this.#subject = options.subjects.commands;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** A job's events after `afterSeq`, all of them, reading page after page. */
  readHistory(jobId: string, afterSeq = 0): Promise<ReadHistoryReply> {
    return readWholeHistory(this, jobId, afterSeq);
  }

  async send<C extends EngineCommand>(command: C): Promise<CommandReplies[C['type']]> {
    const bytes = await this.#transport.request(this.#subject, encode(command), { timeoutMs: this.#timeoutMs });
    const reply = decode(bytes) as Reply<CommandReplies[C['type']]>;
    if (!reply.ok) throw new EngineError(reply.error);
    return reply.value;
  }
}

/**
 * Reads a job's events after `afterSeq` through any sender of engine commands, following the
 * engine's pages (a long history comes in several replies).
 */
export async function readWholeHistory(
  engine: { send(command: { type: 'ReadHistory'; jobId: string; afterSeq: number }): Promise<ReadHistoryReply> },
  jobId: string,
  afterSeq = 0,
): Promise<ReadHistoryReply> {
  const events: RecordedEvent[] = [];
  for (let from = afterSeq; ; ) {
    const page = await engine.send({ type: 'ReadHistory', jobId, afterSeq: from });
    events.push(...page.events);
    if (!page.more || page.events.length === 0) return { job: page.job, events };
    from = (page.events.at(-1) as RecordedEvent).seq;
  }
}
