/**
 * JSON text of values the log holds, for people and JSON clients (`ratchet status --json`,
 * `ratchet history`, the HTTP API): bigints as decimal strings, bytes as `{ "base64": … }`, dates
 * as ISO strings (their own `toJSON`). `JSON.stringify` alone throws at a bigint, and writes the
 * Buffers that MessagePack decodes bytes into as `{ "type": "Buffer", "data": [1, 2, …] }`.
 * `ratchet export` keeps every value exactly instead (`exportHistory`).
 *
 * @example
 * toJsonText({ n: 12n, bytes: new Uint8Array([1, 2]) }); // '{"n":"12","bytes":{"base64":"AQI="}}'
 */
export function toJsonText(value: unknown, space?: number): string | undefined {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key, inner: unknown) {
      // The value before its toJSON ran: a Buffer's own turns it into a list of numbers.
      const raw = this[key];
      if (raw instanceof Uint8Array) return { base64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
      return typeof inner === 'bigint' ? inner.toString() : inner;
    },
    space,
  );
}
