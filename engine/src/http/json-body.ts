/**
 * JSON for the wire: bigints as decimal strings, binary as `{ "base64": … }` (dates go as ISO
 * strings by their own `toJSON`). Job inputs and outputs are MessagePack values, which JSON
 * alone cannot carry.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner === 'bigint') return inner.toString();
    if (inner instanceof Uint8Array) return { base64: Buffer.from(inner).toString('base64') };
    return inner;
  });
}
