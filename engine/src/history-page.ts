import { encode, type JobSummary, type ReadHistoryReply, type RecordedEvent } from '@ratchet/protocol';

/** A history reply stays under this size; the reader asks for the rest. */
export const HISTORY_PAGE_BYTES = 512 * 1024;

/** How many events a page reads from the log at most: about 450 KB of ordinary step events, so most pages fit whole. */
export const HISTORY_PAGE_EVENTS = 2500;

/**
 * As many of `events` as fit one reply (at least one), saying whether more follow: when some
 * were cut off here, or `readAll` is false (the log holds more than was read). With `bytes`, the
 * reply's encoding when it was measured, so that it is not encoded again to be sent.
 */
export function historyPage(
  job: JobSummary,
  events: readonly RecordedEvent[],
  readAll = true,
): { readonly reply: ReadHistoryReply; readonly bytes?: Uint8Array } {
  const reply = (page: readonly RecordedEvent[]): ReadHistoryReply =>
    page.length === events.length && readAll ? { job, events } : { job, events: page, more: true };
  // Events are small in the common case; only long histories pay for measuring. A page too
  // large is cut in proportion to its size (with a margin), then measured again.
  if (events.length <= 64) return { reply: reply(events) };
  let page = reply(events);
  for (let bytes = encode(page); ; ) {
    if (page.events.length <= 1 || bytes.byteLength <= HISTORY_PAGE_BYTES) return { reply: page, bytes };
    page = reply(page.events.slice(0, Math.max(1, Math.floor((page.events.length * HISTORY_PAGE_BYTES * 0.9) / bytes.byteLength))));
    bytes = encode(page);
  }
}
