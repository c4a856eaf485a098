// A JobState as a person reads it: its journal (steps with every attempt, sleeps, waits,
// children), its signals and timers, and how it ended. A long job's journal has thousands of
// entries: one page of them is drawn (the newest by default, where the job is at), with controls
// to page through them or to keep only the entries that had trouble.
import { h } from './dom.js';
import { formatClock, formatDuration, formatTime, preview } from './format.js';

/** Journal entries drawn at a time. */
const JOURNAL_PAGE = 50;
/** Signals drawn: the newest. */
const SIGNALS_SHOWN = 100;

const failureText = (failure) => (failure ? `${failure.name}: ${failure.message}` : '');
const jobLink = (jobId) => h('a', { class: 'mono', href: `#/jobs/${encodeURIComponent(jobId)}` }, jobId);

/**
 * The elements showing `state` (the fold up to some event). `journal`: `start`, the index of the
 * first entry drawn (undefined: the last page); `problemsOnly`, to keep the entries that failed,
 * retried or wait on a breaker; `onPage(start)` and `onProblemsOnly(on)` when the controls are used.
 */
export function jobStateView(state, journal = {}) {
  return [
    outcome(state),
    h('h3', {}, 'Journal'),
    state.journal.length === 0 ? h('p', { class: 'muted' }, 'Nothing recorded yet.') : journalView(state.journal, journal),
    signalsView(state.signals),
    timersView(state.timers),
    h('details', {}, h('summary', {}, 'Input'), h('pre', {}, JSON.stringify(state.input, null, 2) ?? 'undefined')),
  ];
}

function outcome(state) {
  const rows = [];
  if (state.parent) rows.push(['parent', h('span', {}, jobLink(state.parent.jobId), ` (call #${state.parent.position})`)]);
  if (state.output !== undefined) rows.push(['output', h('code', {}, preview(state.output, 400))]);
  if (state.failure) rows.push(['failure', h('span', { class: 'error' }, failureText(state.failure))]);
  if (state.cancel) {
    rows.push([
      'cancel',
      `requested ${formatTime(state.cancel.requestedAt)}: ${state.cancel.reason}${state.cancel.deliveredAt === undefined ? '' : ` (delivered at call #${state.cancel.deliveredAt})`}`,
    ]);
  }
  if (state.continuedAs) rows.push(['continued as', jobLink(state.continuedAs)]);
  if (rows.length === 0) return null;
  return h(
    'dl',
    { class: 'outcome' },
    rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}

/** True for an entry a person looks for in a long journal: it failed, retried, or waits on a breaker. */
const hadTrouble = (entry) =>
  entry.failure !== undefined || ['failed', 'retrying', 'blocked'].includes(entry.status) || (entry.attempts?.length ?? 0) > 1;

function journalView(all, { start, problemsOnly = false, onPage = () => {}, onProblemsOnly = () => {} }) {
  const entries = problemsOnly ? all.filter(hadTrouble) : all;
  const lastStart = Math.max(0, entries.length - JOURNAL_PAGE);
  const from = start === undefined ? lastStart : Math.min(Math.max(0, start), lastStart);
  const to = Math.min(entries.length, from + JOURNAL_PAGE);
  const button = (text, id, target, enabled) =>
    h('button', { type: 'button', id, disabled: !enabled, onclick: () => onPage(target) }, text);
  const pager = h(
    'div',
    { class: 'journal-pager', id: 'journal-pager' },
    button('First', 'journal-first', 0, from > 0),
    button('Earlier', 'journal-earlier', Math.max(0, from - JOURNAL_PAGE), from > 0),
    h(
      'span',
      { class: 'muted', id: 'journal-range' },
      entries.length === 0 ? 'none' : `${from + 1}–${to} of ${entries.length}${problemsOnly ? ` (of ${all.length})` : ''}`,
    ),
    // At the last page the view stays at the end as the job grows (undefined: the last page).
    button('Later', 'journal-later', to >= lastStart ? undefined : from + JOURNAL_PAGE, to < entries.length),
    button('Last', 'journal-last', undefined, to < entries.length),
    h(
      'label',
      {},
      h('input', {
        type: 'checkbox',
        id: 'journal-problems',
        checked: problemsOnly,
        onchange: (change) => onProblemsOnly(change.target.checked),
      }),
      ' only failures and retries',
    ),
  );
  // A pager is only needed once the journal is longer than a page.
  return [
    all.length > JOURNAL_PAGE || problemsOnly ? pager : null,
    entries.length === 0
      ? h('p', { class: 'muted' }, 'No entry failed or retried.')
      : h('ol', { class: 'journal', id: 'journal' }, entries.slice(from, to).map(entryView)),
  ];
}

function entryView(entry) {
  const item = (kind, status, ...content) =>
    h(
      'li',
      { class: `entry ${kind}`, 'data-position': entry.position, 'data-kind': kind, 'data-status': status },
      h('span', { class: 'position' }, `#${entry.position}`),
      ...content,
    );
  switch (entry.kind) {
    case 'step':
      return item(
        'step',
        entry.status,
        h('strong', {}, entry.name),
        ' ',
        h('span', { class: `badge ${entry.status}` }, entry.status),
        entry.status === 'retrying' && entry.retryAt !== undefined
          ? h('span', { class: 'retry' }, ` next attempt at ${formatTime(entry.retryAt)}${entry.retryDurable ? ' (durable timer)' : ''}`)
          : null,
        entry.status === 'blocked' && entry.blockedUntil !== undefined
          ? h('span', { class: 'retry' }, ` breaker open until ${formatTime(entry.blockedUntil)}`)
          : null,
        entry.output !== undefined ? h('div', { class: 'muted' }, 'output ', h('code', {}, preview(entry.output))) : null,
        entry.failure && entry.status === 'failed'
          ? h('div', { class: 'error' }, failureText(entry.failure), entry.reason ? ` (${entry.reason})` : '')
          : null,
        h(
          'table',
          { class: 'attempts' },
          h(
            'tbody',
            {},
            entry.attempts.map((attempt) => attemptView(attempt)),
          ),
        ),
      );
    case 'sleep':
      return item(
        'sleep',
        entry.fired ? 'fired' : 'waiting',
        `sleep until ${formatTime(entry.fireAt)} `,
        h('span', { class: 'muted' }, entry.fired ? 'woke' : 'sleeping'),
      );
    case 'wait':
      return item(
        'wait',
        entry.ended ? 'ended' : 'waiting',
        `wait for signal "${entry.name}"`,
        entry.timeoutAt === undefined ? '' : ` until ${formatTime(entry.timeoutAt)}`,
        ' ',
        h('span', { class: 'muted' }, entry.ended ? (entry.signalId ? `took signal ${entry.signalId}` : 'timed out') : 'waiting'),
      );
    case 'child':
      return item(
        'child',
        entry.status ?? 'running',
        'child job ',
        jobLink(entry.childJobId),
        ` (${entry.workflow}) `,
        h('span', { class: `badge ${entry.status ?? 'running'}` }, entry.status ?? 'running'),
        entry.failure ? h('div', { class: 'error' }, failureText(entry.failure)) : null,
      );
    case 'value':
      return item('value', 'recorded', `${entry.valueKind} = `, h('code', {}, String(entry.value)));
    case 'cancel':
      return item('cancel', 'delivered', 'CancelledError delivered to the workflow');
    default:
      return item(entry.kind, '', preview(entry));
  }
}

function attemptView(attempt) {
  const took = attempt.endedAt === undefined ? 'running' : `took ${formatDuration(attempt.endedAt - attempt.startedAt)}`;
  return h(
    'tr',
    { 'data-attempt': attempt.attempt, 'data-status': attempt.status },
    h('td', { class: 'nowrap' }, `#${attempt.attempt}`),
    h('td', {}, h('span', { class: `badge ${attempt.status}` }, attempt.status)),
    h('td', { class: 'nowrap mono', title: formatTime(attempt.startedAt) }, formatClock(attempt.startedAt)),
    h('td', { class: 'nowrap' }, took),
    h('td', { class: 'muted' }, attempt.worker, attempt.breaker ? ` · breaker ${attempt.breaker}${attempt.probe ? ' (probe)' : ''}` : ''),
    h('td', { class: 'error' }, failureText(attempt.failure)),
  );
}

function signalsView(all) {
  if (all.length === 0) return null;
  const signals = all.slice(-SIGNALS_SHOWN);
  return [
    h('h3', {}, 'Signals'),
    all.length > signals.length ? h('p', { class: 'muted' }, `the newest ${signals.length} of ${all.length}`) : null,
    h(
      'table',
      { class: 'signals', id: 'signals' },
      h(
        'tbody',
        {},
        signals.map((signal) =>
          h(
            'tr',
            {},
            h('td', {}, h('strong', {}, signal.name)),
            h('td', {}, h('code', {}, preview(signal.payload))),
            h('td', {}, formatTime(signal.receivedAt)),
            h('td', { class: 'muted' }, signal.takenBy === undefined ? 'in the inbox' : `taken by call #${signal.takenBy}`),
          ),
        ),
      ),
    ),
  ];
}

function timersView(timers) {
  const pending = Object.values(timers);
  if (pending.length === 0) return null;
  return [
    h('h3', {}, 'Timers'),
    h(
      'ul',
      {},
      pending.map((timer) => h('li', {}, `${timer.timerId} at ${formatTime(timer.fireAt)}`)),
    ),
  ];
}
