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
import { type Transport, TransportError } from './transport/index.ts';

/**
 * Typed request/reply to the engine: one method, keyed by command type. Refusals arrive as
 * {@link EngineError}s carrying the engine's error name; transport failures as `TransportError`.
 */
export class EngineClient {
  readonly #transport: Transport;
  readonly #subjects: Subjects;
  readonly #timeoutMs: number;

  constructor(options: { readonly transport: Transport; readonly subjects: Subjects; readonly timeoutMs?: number }) {
    this.#transport = options.transport;
    this.#subjects = options.subjects;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** A job's events after `afterSeq`, all of them, reading page after page. */
  readHistory(jobId: string, afterSeq = 0): Promise<ReadHistoryReply> {
    return readWholeHistory(this, jobId, afterSeq);
  }

  /**
   * Sends `command` to any engine, or to the engine `options.engine` names (see
   * `AppendEventsReply.engine`); to any, if that one is no longer there.
   */
  async send<C extends EngineCommand>(
    command: C,
    options: { readonly engine?: string | undefined } = {},
  ): Promise<CommandReplies[C['type']]> {
    const payload = encode(command);
    const timeout = { timeoutMs: this.#timeoutMs };
    let bytes: Uint8Array;
    if (options.engine === undefined) bytes = await this.#transport.request(this.#subjects.commands, payload, timeout);
    else {
      try {
        bytes = await this.#transport.request(this.#subjects.engine(options.engine), payload, timeout);
      } catch (error) {
        // That engine stopped (or restarted under a new id): nothing was carried out.
        if (!(error instanceof TransportError && error.code === 'no-responders')) throw error;
        bytes = await this.#transport.request(this.#subjects.commands, payload, timeout);
      }
    }
    const reply = decode(bytes) as Reply<CommandReplies[C['type']]>;
    if (!reply.ok) throw new EngineError(reply.error);
    return reply.value;
  }
}

/** Pages asked for ahead of the one being taken in. */
const PAGES_AHEAD = 3;

/**
 * Reads a job's events after `afterSeq` through any sender of engine commands, following the
 * engine's pages (a long history comes in several replies). The first page tells how long the log
 * is and how many events a page holds, so the next few pages are asked for before they are
 * needed: the engine prepares one while this side takes in the last. Each page is still used
 * only if it starts exactly where the events so far end; one that does not (pages cut short by
 * their size) is asked for again from there, and no more are asked for ahead.
 */
export async function readWholeHistory(
  engine: { send(command: { type: 'ReadHistory'; jobId: string; afterSeq: number }): Promise<ReadHistoryReply> },
  jobId: string,
  afterSeq = 0,
): Promise<ReadHistoryReply> {
  const read = (from: number) => engine.send({ type: 'ReadHistory', jobId, afterSeq: from });
  let page = await read(afterSeq);
  const events: RecordedEvent[] = [...page.events];
  const stride = page.events.length;
  const ahead = new Map<number, Promise<ReadHistoryReply>>();
  let next = afterSeq + stride;
  let planning = true;
  for (;;) {
    if (!page.more || page.events.length === 0) return { job: page.job, events };
    const from = (page.events.at(-1) as RecordedEvent).seq;
    for (; planning && ahead.size < PAGES_AHEAD && next < page.job.lastSeq; next += stride) {
      const request = read(next);
      // Awaited below when it lines up; a page left unused must not fail unheard.
      request.catch(() => {});
      ahead.set(next, request);
    }
    const planned = ahead.get(from);
    if (planned === undefined) {
      planning = false;
      ahead.clear();
    } else {
      ahead.delete(from);
    }
    page = await (planned ?? read(from));
    events.push(...page.events);
  }
}
