import { Packr } from 'msgpackr';
import { MAX_VALUE_BYTES } from './limits.ts';

/** The one msgpackr instance: every event, command, reply and task crosses the wire through it. */
const packr = new Packr({ useRecords: false, moreTypes: false, useBigIntExtension: true });

/** Raised when bytes are not a valid message or a value cannot be encoded. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

/** Encodes a value with MessagePack. Call {@link assertEncodable} first for user data. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** The bytes of `{ ok: true, value: … }` up to the value (the encoding of a null value, without it). */
const OK_REPLY_HEAD = packr.pack({ ok: true, value: null }).subarray(0, -1);

/**
 * The reply envelope `{ ok: true, value }` around a value already encoded: what `encode` would
 * give, without encoding a value again that was encoded to be measured or built from stored bytes.
 */
export function encodeOkReply(valueBytes: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(OK_REPLY_HEAD.byteLength + valueBytes.byteLength);
  bytes.set(OK_REPLY_HEAD);
  bytes.set(valueBytes, OK_REPLY_HEAD.byteLength);
  return bytes;
}

/** Decodes MessagePack bytes; malformed input raises a {@link CodecError} naming the problem. */
export function decode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new CodecError(`malformed message (${bytes.byteLength} bytes): ${(error as Error).message}`);
  }
}

/**
 * Throws a {@link CodecError} naming the path of the first part of `value` that would not survive
 * a round trip through the log unchanged: functions, symbols, Maps, Sets, class instances and
 * cycles. Plain objects, arrays, strings, numbers, booleans, null, bigint, Date and Uint8Array pass.
 */
export function assertEncodable(value: unknown, label = 'value'): void {
  walk(value, label, new Set());
}

/**
 * {@link assertEncodable}, and the value encodes to at most {@link MAX_VALUE_BYTES}: what job
 * inputs and step and job outputs must satisfy.
 */
export function assertStorable(value: unknown, label = 'value'): void {
  assertEncodable(value, label);
  const size = encode(value).byteLength;
  if (size > MAX_VALUE_BYTES) {
    throw new CodecError(
      `${label} is ${size} bytes encoded; the limit is ${MAX_VALUE_BYTES} bytes (store large data elsewhere and pass a reference)`,
    );
  }
}

function walk(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return;
    case 'function':
    case 'symbol':
      throw new CodecError(`${path} is a ${typeof value} and cannot be stored in the log`);
    case 'object': {
      if (value === null || value instanceof Date || value instanceof Uint8Array) return;
      if (seen.has(value)) throw new CodecError(`${path} is a circular reference and cannot be stored in the log`);
      seen.add(value);
      if (Array.isArray(value)) {
        for (const [i, item] of value.entries()) walk(item, `${path}[${i}]`, seen);
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as object).constructor?.name ?? 'object';
          throw new CodecError(`${path} is a ${kind}; only plain objects, arrays and primitives can be stored in the log`);
        }
        for (const [key, item] of Object.entries(value)) walk(item, `${path}.${key}`, seen);
      }
      seen.delete(value);
    }
  }
}
