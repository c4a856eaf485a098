import { toJsonText } from '@ratchet/protocol';

/**
 * JSON for the wire: bigints as decimal strings, binary as `{ "base64": … }` (dates go as ISO
 * strings by their own `toJSON`). Job inputs and outputs are MessagePack values, which JSON
 * alone cannot carry.
 */
export function toJson(value: unknown): string {
  return toJsonText(value) ?? 'null';
}
