// Circuit breakers: their state, and an operator's trip (for a while) and reset. Refreshed every 2 s.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { formatTime } from './format.js';

/** Renders the breakers page; returns a function that stops its refresh. */
export function renderBreakers(main) {
  const body = h('tbody');
  const message = h('p', { class: 'muted', role: 'status' });
  const name = h('input', { name: 'name', placeholder: 'breaker name', 'aria-label': 'breaker name', required: true });
  const duration = h('input', { name: 'for', value: '1m', 'aria-label': 'open for', size: 6 });
  const act = async (what, run) => {
    try {
      show(await run());
      message.textContent = what;
    } catch (error) {
      message.textContent = `${error.name}: ${error.message}`;
    }
  };
  main.append(
    h('h1', {}, 'Breakers'),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (event) => {
          event.preventDefault();
          void act(`tripped ${name.value}`, () => api.trip(name.value.trim(), duration.value.trim()));
        },
      },
      name,
      h('label', {}, 'open for ', duration),
      h('button', { type: 'submit' }, 'Trip'),
    ),
    message,
    h(
      'table',
      { id: 'breaker-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'breaker'),
          h('th', {}, 'state'),
          h('th', {}, 'open until'),
          h('th', {}, 'consecutive failures'),
          h('th', {}, 'probes'),
          h('th', {}, ''),
        ),
      ),
      body,
    ),
  );

  const show = ({ breakers }) => {
    fill(
      body,
      breakers.length === 0
        ? h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No breakers yet: they appear when a worker first guards a step with one.'))
        : null,
      breakers.map((breaker) =>
        h(
          'tr',
          { 'data-breaker': breaker.name },
          h('td', { class: 'mono' }, breaker.name),
          h('td', {}, h('span', { class: `badge breaker-${breaker.status}` }, breaker.status)),
          h('td', {}, formatTime(breaker.openUntil)),
          h('td', { class: 'num' }, breaker.consecutiveFailures),
          h('td', { class: 'num' }, breaker.probesInFlight),
          h(
            'td',
            { class: 'row-actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'trip',
                onclick: () => act(`tripped ${breaker.name}`, () => api.trip(breaker.name, duration.value.trim())),
              },
              'Trip',
            ),
            h(
              'button',
              { type: 'button', class: 'reset', onclick: () => act(`reset ${breaker.name}`, () => api.reset(breaker.name)) },
              'Reset',
            ),
          ),
        ),
      ),
    );
  };

  let stopped = false;
  let timer;
  const load = async () => {
    try {
      const answer = await api.breakers();
      if (!stopped) show(answer);
    } catch (error) {
      if (!stopped) message.textContent = `Could not read breakers: ${error.message}`;
    }
    if (!stopped) timer = setTimeout(load, 2000);
  };
  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
