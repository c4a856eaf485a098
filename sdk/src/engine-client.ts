import { type CommandReplies, decode, type EngineCommand, encode, type Reply, type Subjects } from '@ratchet/protocol';
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

  async send<C extends EngineCommand>(command: C): Promise<CommandReplies[C['type']]> {
    const bytes = await this.#transport.request(this.#subject, encode(command), { timeoutMs: this.#timeoutMs });
    const reply = decode(bytes) as Reply<CommandReplies[C['type']]>;
    if (!reply.ok) throw new EngineError(reply.error);
    return reply.value;
  }
}
