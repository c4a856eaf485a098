// The job's event timeline: a scrolling table that draws only the rows in sight. A job of 10,000
// events drawn whole was 70,000 elements and seconds of layout; this draws about a hundred rows.
// Every row has the same height (ROW_PX, fixed in style.css), so event `seq` sits at
// (seq - 1) × ROW_PX and the scroll position says which seqs to draw. Events are read a page at a
// time as they come into sight, and kept: a job's log never changes, it only grows.
import { h } from './dom.js';
import { formatClock, formatTime } from './format.js';

/** The height of a row, in CSS pixels: `.timeline-scroll tbody tr` in style.css has the same. */
const ROW_PX = 24;
/** Rows drawn beyond each edge of the view, so a scroll shows drawn rows while the next draw runs. */
const OVERSCAN = 30;
/** Events per read of the API when rows come into sight. */
const PAGE = 500;

/**
 * The timeline of a job. `readPage(after, limit)` reads events (the API's `events`); `onPick(seq)`
 * is called when a row is clicked; `onError(error)` when a read fails; `onRead()` after events were added.
 */
export function timelineView({ readPage, onPick, onError, onRead }) {
  /** Events read so far, by seq. */
  const events = new Map();
  /** The pages (by their first seq - 1) being read. */
  const reading = new Set();
  /** The job's newest seq as last known: the rows there are. */
  let total = 0;
  let selected;
  /** Keeps the view at the newest row while the log grows (a person scrolled up turns it off). */
  let stickToEnd = true;
  /** What was drawn last (first and last seq, selection, events known), to skip a redraw that changes nothing. */
  let drawnKey = '';

  const head = h(
    'thead',
    {},
    h(
      'tr',
      {},
      h('th', {}, 'seq'),
      h('th', {}, 'time'),
      h('th', {}, 'event'),
      h('th', {}, 'step'),
      h('th', {}, 'attempt'),
      h('th', {}, 'detail'),
    ),
  );
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'timeline', id: 'timeline' },
    h(
      'colgroup',
      {},
      h('col', { class: 'col-seq' }),
      h('col', { class: 'col-time' }),
      h('col', { class: 'col-event' }),
      h('col', { class: 'col-step' }),
      h('col', { class: 'col-attempt' }),
      h('col'),
    ),
    head,
    body,
  );
  const sizer = h('div', { class: 'timeline-sizer' }, table);
  const scroller = h('div', { class: 'timeline-scroll', id: 'timeline-scroll', tabindex: 0 }, sizer);
  const position = h('span', { class: 'muted', id: 'timeline-position' });

  scroller.addEventListener('scroll', () => {
    stickToEnd = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - ROW_PX;
    draw();
  });

  const rowOf = (event) => {
    const line = event.line;
    return h(
      'tr',
      {
        'data-seq': event.seq,
        'data-type': event.type,
        class: `${line.error ? 'failed-row' : ''}${event.seq === selected ? ' selected' : ''}`,
      },
      h('td', { class: 'num' }, event.seq),
      h('td', { class: 'mono', title: formatTime(event.recordedAt) }, formatClock(event.recordedAt)),
      h('td', { title: event.type }, event.type),
      h('td', { title: line.step ?? '' }, line.step ?? ''),
      h('td', { class: 'num' }, line.attempt ?? ''),
      h(
        'td',
        { title: [line.error, line.detail].filter(Boolean).join(' ') },
        line.error ? h('span', { class: 'error' }, line.error, ' ') : null,
        line.detail ?? '',
      ),
    );
  };

  const read = async (after) => {
    if (reading.has(after)) return;
    reading.add(after);
    try {
      const page = await readPage(after, PAGE);
      add(page.events);
    } catch (error) {
      onError(error);
    } finally {
      reading.delete(after);
    }
  };

  /** Draws the rows in sight (and OVERSCAN more each side), reading the pages that are missing. */
  const draw = () => {
    const headerPx = head.offsetHeight || ROW_PX;
    const viewPx = Math.max(scroller.clientHeight, window.innerHeight);
    const rowsInSight = Math.ceil(viewPx / ROW_PX);
    const firstInSight = Math.max(
      1,
      Math.min(Math.floor(Math.max(0, scroller.scrollTop - headerPx) / ROW_PX) + 1, total - rowsInSight + 1),
    );
    const first = Math.max(1, firstInSight - OVERSCAN);
    const last = Math.min(total, firstInSight + rowsInSight + OVERSCAN);
    sizer.style.height = `${headerPx + total * ROW_PX}px`;
    // What the box shows (the rows drawn reach further: the window is sized for the whole screen).
    const shownFirst = Math.floor(Math.max(0, scroller.scrollTop) / ROW_PX) + 1;
    const shownLast = Math.min(total, Math.floor((scroller.scrollTop + scroller.clientHeight - headerPx) / ROW_PX));
    position.textContent =
      total === 0
        ? ''
        : `events ${Math.min(shownFirst, total)}–${Math.max(shownLast, 1)} of ${total}${shownLast < total || shownFirst > 1 ? ' (scroll for more)' : ''}`;
    const key = `${first}:${last}:${selected}:${events.size}`;
    if (key === drawnKey) return;
    drawnKey = key;
    table.style.marginTop = `${(first - 1) * ROW_PX}px`;
    const rows = [];
    for (let seq = first; seq <= last; seq++) {
      const event = events.get(seq);
      if (event) rows.push(rowOf(event));
      else {
        rows.push(
          h(
            'tr',
            { class: 'pending', 'data-pending-seq': seq },
            h('td', { class: 'num' }, seq),
            h('td', { colspan: 5, class: 'muted' }, '…'),
          ),
        );
        void read(Math.floor((seq - 1) / PAGE) * PAGE);
      }
    }
    body.replaceChildren(...rows);
  };

  body.addEventListener('click', (click) => {
    const row = click.target.closest('tr[data-seq]');
    if (row) onPick(Number(row.dataset.seq));
  });

  /** Scrolls so that `seq` is in sight (centred, if it was not). */
  const reveal = (seq) => {
    const headerPx = head.offsetHeight || ROW_PX;
    const top = headerPx + (seq - 1) * ROW_PX;
    if (top < scroller.scrollTop + headerPx || top + ROW_PX > scroller.scrollTop + scroller.clientHeight) {
      scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 2);
    }
  };

  /** Adds events that were read; the rows grow to the newest seq among them. */
  const add = (list) => {
    for (const event of list) {
      events.set(event.seq, event);
      total = Math.max(total, event.seq);
    }
    if (list.length > 0) {
      update();
      onRead();
    }
  };

  /** Redraws after a change, keeping the view at the end when it was there. */
  const update = () => {
    sizer.style.height = `${(head.offsetHeight || ROW_PX) + total * ROW_PX}px`;
    if (stickToEnd) scroller.scrollTop = scroller.scrollHeight;
    draw();
  };

  return {
    element: h('div', { class: 'timeline-box' }, scroller, h('div', { class: 'timeline-foot' }, position)),
    add,
    /** The job has events up to `seq` (those not read yet are read when they come into sight). */
    setTotal(seq) {
      if (seq <= total) return;
      total = seq;
      update();
    },
    /** Marks `seq` as the event the state is shown at; `scroll` brings it into sight. */
    select(seq, scroll) {
      selected = seq;
      if (scroll) {
        stickToEnd = seq >= total;
        if (stickToEnd) scroller.scrollTop = scroller.scrollHeight;
        else reveal(seq);
      }
      draw();
    },
    /** The type of event `seq`, when it has been read. */
    typeOf: (seq) => events.get(seq)?.type,
  };
}
