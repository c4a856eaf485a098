// The job list: filters (status, workflow, jobId prefix) and keyset paging, refreshed every 2 s.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { formatDuration, formatTime } from './format.js';

const STATUSES = ['running', 'completed', 'failed', 'cancelled', 'continued'];
const PAGE_SIZE = 50;
/** Cursors of the pages before the current one, so "Newer" can go back (keyset pages only go forward). */
const earlier = [];

/** Renders the job list for the filters and cursor in `params`; returns a function that stops it. */
export function renderJobs(main, params) {
  const filters = { status: params.get('status') ?? '', workflow: params.get('workflow') ?? '', q: params.get('q') ?? '' };
  const after = params.get('after') ?? '';
  const go = (next) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(next)) if (value) search.set(key, value);
    location.hash = `#/jobs${search.size > 0 ? `?${search}` : ''}`;
  };

  const status = h(
    'select',
    { name: 'status', 'aria-label': 'status' },
    h('option', { value: '' }, 'any status'),
    ...STATUSES.map((s) => h('option', { value: s }, s)),
  );
  status.value = filters.status;
  const workflow = h('input', { name: 'workflow', placeholder: 'workflow', value: filters.workflow, 'aria-label': 'workflow' });
  const search = h('input', {
    name: 'q',
    placeholder: 'jobId starts with…',
    value: filters.q,
    'aria-label': 'search by jobId',
    type: 'search',
  });
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event) => {
        event.preventDefault();
        earlier.length = 0;
        go({ status: status.value, workflow: workflow.value.trim(), q: search.value.trim() });
      },
    },
    status,
    workflow,
    search,
    h('button', { type: 'submit' }, 'Filter'),
  );
  status.addEventListener('change', () => form.requestSubmit());

  const body = h('tbody');
  const table = h(
    'table',
    { class: 'jobs', id: 'job-table' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'jobId'), h('th', {}, 'workflow'), h('th', {}, 'status'), h('th', {}, 'started'), h('th', {}, 'duration')),
    ),
    body,
  );
  const pager = h('div', { class: 'pager' });
  const message = h('p', { class: 'muted' });
  main.append(h('h1', {}, 'Jobs'), form, message, table, pager);

  let stopped = false;
  let timer;
  const load = async () => {
    try {
      const page = await api.listJobs({ ...filters, after, limit: PAGE_SIZE });
      if (stopped) return;
      fill(
        body,
        page.jobs.map((job) =>
          h(
            'tr',
            { 'data-job-id': job.jobId },
            h('td', { class: 'mono' }, h('a', { href: `#/jobs/${encodeURIComponent(job.jobId)}` }, job.jobId)),
            h('td', {}, job.workflow, job.version ? h('span', { class: 'muted' }, ` v${job.version}`) : null),
            h('td', {}, h('span', { class: `badge ${job.status}` }, job.status)),
            h('td', {}, formatTime(job.startedAt)),
            h('td', { class: 'num' }, formatDuration(job.durationMs)),
          ),
        ),
      );
      message.textContent = page.jobs.length === 0 ? 'No jobs match.' : '';
      fill(
        pager,
        after ? h('button', { type: 'button', onclick: () => go({ ...filters, after: earlier.pop() ?? '' }) }, '← Newer') : null,
        after
          ? h(
              'button',
              {
                type: 'button',
                onclick: () => {
                  earlier.length = 0;
                  go(filters);
                },
              },
              'Newest',
            )
          : null,
        page.next
          ? h(
              'button',
              {
                type: 'button',
                id: 'next-page',
                onclick: () => {
                  earlier.push(after);
                  go({ ...filters, after: page.next });
                },
              },
              'Older →',
            )
          : null,
      );
    } catch (error) {
      if (!stopped) message.textContent = `Could not list jobs: ${error.message}`;
    }
    if (!stopped) timer = setTimeout(load, 2000);
  };
  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
