import { describe, expect, it } from 'vitest';
import { assertEncodable, CodecError, decode, encode, encodeOkReply, parseCommand, resolveRetryPolicy, toMs } from '../src/index.ts';

describe('the codec', () => {
  it('wraps a value already encoded in the reply envelope, as encoding the envelope would', () => {
    const value = { job: { jobId: 'j', lastSeq: 3 }, events: [{ seq: 1, recordedAt: 5, event: { type: 'X', n: 2n } }], more: true };
    const wrapped = encodeOkReply(encode(value));
    expect(decode(wrapped)).toEqual({ ok: true, value });
    expect(Buffer.from(wrapped).equals(Buffer.from(encode({ ok: true, value })))).toBe(true);
  });

  it('round-trips plain data', () => {
    const value = { a: [1, 'two', null, true], d: new Date(5), n: 2n ** 70n };
    expect(decode(encode(value))).toEqual(value);
    // Bytes come back as a Buffer, which is a Uint8Array with the same contents.
    const bytes = decode(encode(new Uint8Array([1, 2]))) as Uint8Array;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([1, 2]);
  });

  it('names the part of a value that cannot be stored', () => {
    expect(() => assertEncodable({ order: { notify: () => 1 } }, 'input')).toThrow('input.order.notify is a function');
    expect(() => assertEncodable({ m: new Map() }, 'input')).toThrow('input.m is a Map');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => assertEncodable(cycle, 'input')).toThrow('input.self is a circular reference');
  });

  it('reports malformed bytes as a CodecError', () => {
    expect(() => decode(new Uint8Array([0xc1, 1, 2]))).toThrow(CodecError);
  });
});

describe('validation', () => {
  it('names the field of a malformed command', () => {
    expect(() => parseCommand({ type: 'StartJob' })).toThrow('command StartJob is missing workflow');
    expect(() => parseCommand({ type: 'Nope' })).toThrow(/unknown type "Nope"/);
    expect(() => parseCommand({ type: 'GetJob', jobId: 'bad id!' })).toThrow(/jobId "bad id!"/);
    expect(() => parseCommand({ type: 'AppendEvents', jobId: 'j', expectedSeq: 1, epoch: 1, events: [{ type: 'StepStarted' }] })).toThrow(
      'events[0] StepStarted is missing stepId',
    );
  });

  it('rejects retry policies that make no sense, naming the field', () => {
    expect(() => resolveRetryPolicy({ maximumAttempts: 0 })).toThrow('maximumAttempts must be an integer >= 1, got 0');
    expect(() => resolveRetryPolicy({ backoffCoefficient: 0.5 })).toThrow('backoffCoefficient must be a number >= 1');
    expect(() => resolveRetryPolicy({ initialInterval: '2s', maximumInterval: '1s' })).toThrow(
      'maximumInterval (1000 ms) is shorter than initialInterval (2000 ms)',
    );
    expect(() => resolveRetryPolicy({ initialInterval: 'soon' as never })).toThrow('initialInterval "soon" is not a duration');
    expect(resolveRetryPolicy({})).toEqual({
      initialIntervalMs: 1000,
      backoffCoefficient: 2,
      maximumIntervalMs: 100_000,
      maximumAttempts: 3,
      jitter: 'none',
      nonRetryable: [],
    });
  });

  it('parses durations', () => {
    expect(toMs('250ms')).toBe(250);
    expect(toMs('1.5s')).toBe(1500);
    expect(toMs('2h')).toBe(7_200_000);
    expect(() => toMs(-1)).toThrow(RangeError);
  });
});
