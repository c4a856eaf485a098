import { encode, type JobSummary } from '@ratchet/protocol';
import type { EncodedEvent } from '@ratchet/store';

/** A history reply stays under this size; the reader asks for the rest. */
export const HISTORY_PAGE_BYTES = 512 * 1024;

/** How many events a page reads from the log at most: about 450 KB of ordinary step events, so most pages fit whole. */
export const HISTORY_PAGE_EVENTS = 2500;

// The MessagePack of the reply's keys, and of an event entry's.
const KEY = {
  job: encode('job'),
  events: encode('events'),
  more: encode('more'),
  seq: encode('seq'),
  recordedAt: encode('recordedAt'),
  event: encode('event'),
};
const TRUE = 0xc3;

/**
 * A `ReadHistoryReply` (`{ job, events: [{ seq, recordedAt, event }], more? }`) as MessagePack,
 * built around the events' stored bytes: decoding them to encode them again was most of the
 * engine's work for a long history. As many events as fit {@link HISTORY_PAGE_BYTES} (at least
 * one); `more` when some were left out here, or `readAll` is false (the log holds more than was
 * read). A reader decodes it to the same value `encode` would have given.
 */
export function encodeHistoryPage(job: JobSummary, events: readonly EncodedEvent[], readAll = true): Uint8Array {
  const head = encode(job);
  const entrySize = (e: EncodedEvent) => 1 + KEY.seq.length + 5 + KEY.recordedAt.length + 9 + KEY.event.length + e.data.length;
  let count = 0;
  let size = 1 + KEY.job.length + head.length + KEY.events.length + 5 + KEY.more.length + 1;
  for (; count < events.length; count++) {
    const next = entrySize(events[count] as EncodedEvent);
    if (count > 0 && size + next > HISTORY_PAGE_BYTES) break;
    size += next;
  }
  const more = count < events.length || !readAll;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const put = (part: Uint8Array) => {
    bytes.set(part, at);
    at += part.length;
  };
  bytes[at++] = more ? 0x83 : 0x82; // a map of 3 or 2 entries
  put(KEY.job);
  put(head);
  put(KEY.events);
  bytes[at++] = 0xdd; // array 32
  view.setUint32(at, count);
  at += 4;
  for (let i = 0; i < count; i++) {
    const e = events[i] as EncodedEvent;
    bytes[at++] = 0x83; // a map of 3 entries
    put(KEY.seq);
    bytes[at++] = 0xce; // uint 32
    view.setUint32(at, e.seq);
    at += 4;
    put(KEY.recordedAt);
    bytes[at++] = 0xcb; // float 64
    view.setFloat64(at, e.recordedAt);
    at += 8;
    put(KEY.event);
    put(e.data);
  }
  if (more) {
    put(KEY.more);
    bytes[at++] = TRUE;
  }
  return bytes.subarray(0, at);
}
