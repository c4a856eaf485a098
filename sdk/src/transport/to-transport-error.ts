import { JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';
import { TransportError } from './transport.ts';

/**
 * Translates what nats.js throws into a {@link TransportError} whose code says what happened.
 * nats.js wraps its causes (a `RequestError` caused by `NoRespondersError`, a
 * `JetStreamNotEnabled` caused by that `RequestError`), so the whole `cause` chain is read.
 *
 * @param doing what was attempted, for the message: `request to ratchet.engine.commands`
 * @param connectionClosed whether the connection was closed or draining when it failed
 */
export function toTransportError(error: unknown, doing: string, connectionClosed = false): TransportError {
  if (error instanceof TransportError) return error;
  const code = codeOf(error) ?? (connectionClosed ? 'closed' : 'failed');
  return new TransportError(`${doing} failed: ${describe(code, error)}`, code, { cause: error });
}

function codeOf(error: unknown): TransportError['code'] | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    if (cause instanceof errors.TimeoutError) return 'timeout';
    if (cause instanceof errors.NoRespondersError) return 'no-responders';
    if (cause instanceof errors.ClosedConnectionError || cause instanceof errors.DrainingConnectionError) return 'closed';
    if (cause instanceof errors.InvalidArgumentError && cause.message.includes('max_payload')) return 'too-large';
    if (cause instanceof JetStreamApiError && cause.code === 10054) return 'too-large'; // message size exceeds maximum allowed
    if (cause instanceof errors.RequestError && cause.message === 'connection closed') return 'closed';
  }
  return undefined;
}

function describe(code: TransportError['code'], error: unknown): string {
  switch (code) {
    case 'timeout':
      return 'timed out';
    case 'no-responders':
      return 'no responders';
    case 'closed':
      return 'the connection is closed';
    case 'too-large':
      return 'the payload exceeds the server max_payload';
    case 'failed':
      return error instanceof Error ? error.message : String(error);
  }
}
