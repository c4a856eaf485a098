import { encode, type JobSummary, type ReadHistoryReply, type RecordedEvent } from '@ratchet/protocol';

/** A history reply stays under this size; the reader asks for the rest. */
export const HISTORY_PAGE_BYTES = 512 * 1024;

/** As many events as fit one reply (at least one), saying whether more follow. */
export function historyPage(job: JobSummary, events: readonly RecordedEvent[]): ReadHistoryReply {
  let page = events;
  // Events are small in the common case; only long histories pay for measuring.
  if (events.length > 64) {
    while (page.length > 1 && encode({ job, events: page }).byteLength > HISTORY_PAGE_BYTES)
      page = page.slice(0, Math.ceil(page.length / 2));
  }
  return page.length === events.length ? { job, events } : { job, events: page, more: true };
}
