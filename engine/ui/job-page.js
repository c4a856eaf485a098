// One job: its header and actions, the time-travel slider with the JobState at the chosen event,
// and the event timeline, kept live by polling for new events until the job has finished.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { formatClock, formatDuration, formatTime, isFinished } from './format.js';
import { jobStateView } from './job-state-view.js';

const POLL_MS = 1000;
const EVENTS_PAGE = 1000;

/** Renders the page of `jobId`; returns a function that stops its polling. */
export function renderJob(main, jobId) {
  let stopped = false;
  let pollTimer;
  let slideTimer;
  /** The job as last read, the seq of the last event shown, and whether the slider follows the newest event. */
  let job;
  /** Where the job was forked from (JobState.forkedFrom), if it was. */
  let origin;
  let lastSeq = 0;
  let follow = true;
  const rowsBySeq = new Map();

  const title = h('h1', { class: 'mono' }, jobId);
  const summary = h('div', { class: 'summary', id: 'job-summary' });
  const message = h('p', { class: 'message', id: 'action-message', role: 'status' });
  const slider = h('input', {
    type: 'range',
    id: 'time-travel',
    min: 1,
    max: 1,
    value: 1,
    step: 1,
    'aria-label': 'time travel: the event to show the state at',
  });
  const sliderLabel = h('span', { id: 'time-travel-label' });
  const followButton = h('button', { type: 'button', id: 'follow', onclick: () => setFollow(true) }, 'Latest');
  const stateBox = h('div', { id: 'state' });
  const timelineBody = h('tbody');
  const actions = actionBar();

  main.append(
    title,
    summary,
    actions.element,
    message,
    h(
      'div',
      { class: 'columns' },
      h(
        'section',
        { class: 'state-column' },
        h('h2', {}, 'State'),
        h('div', { class: 'travel' }, slider, followButton, h('div', {}, sliderLabel)),
        stateBox,
      ),
      h(
        'section',
        { class: 'timeline-column' },
        h('h2', {}, 'Timeline'),
        h(
          'table',
          { class: 'timeline', id: 'timeline' },
          h(
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
          ),
          timelineBody,
        ),
      ),
    ),
  );

  const showSummary = () => {
    const status = job.status;
    fill(
      summary,
      h('span', { class: `badge ${status}`, id: 'job-status' }, status),
      ' ',
      h('strong', {}, job.workflow),
      job.version ? ` v${job.version}` : '',
      h(
        'span',
        { class: 'muted' },
        ` · started ${formatTime(job.startedAt)} · ${isFinished(status) ? 'took' : 'running for'} ${formatDuration(job.durationMs)} · epoch ${job.epoch} · ${job.lastSeq} events`,
      ),
      origin
        ? h(
            'span',
            { class: 'muted', id: 'forked-from' },
            ' · forked from ',
            h('a', { href: `#/jobs/${encodeURIComponent(origin.jobId)}` }, origin.jobId),
            ` at step "${origin.step}"`,
          )
        : '',
    );
    actions.setEnabled(!isFinished(status));
  };

  const showState = (state, at) => {
    fill(stateBox, jobStateView(state));
    const row = rowsBySeq.get(at);
    sliderLabel.textContent = `at event ${at} of ${lastSeq}${row ? ` · ${row.dataset.type}` : ''}${follow ? (isFinished(job?.status) ? ' (latest)' : ' (latest, live)') : ''}`;
    for (const selected of timelineBody.querySelectorAll('tr.selected')) selected.classList.remove('selected');
    row?.classList.add('selected');
  };

  const setFollow = (on) => {
    follow = on;
    followButton.disabled = on;
    if (on && job !== undefined) void refreshJob().catch((error) => (message.textContent = `Could not read the job: ${error.message}`));
  };

  /** Shows the state folded up to `seq`; at the newest event the view follows the job again. */
  const travel = (seq) => {
    follow = seq >= lastSeq;
    followButton.disabled = follow;
    slider.value = String(seq);
    clearTimeout(slideTimer);
    // Let the slider settle before asking for the fold at its position.
    slideTimer = setTimeout(async () => {
      try {
        const { state } = await api.stateAt(jobId, seq);
        if (!stopped && Number(slider.value) === seq) showState(state, seq);
      } catch (error) {
        message.textContent = `Could not fold the state at ${seq}: ${error.message}`;
      }
    }, 80);
  };
  slider.addEventListener('input', () => travel(Number(slider.value)));

  const addEvents = (events) => {
    for (const event of events) {
      const line = event.line;
      const row = h(
        'tr',
        { 'data-seq': event.seq, 'data-type': event.type, class: line.error ? 'failed-row' : '', onclick: () => travel(event.seq) },
        h('td', { class: 'num' }, event.seq),
        h('td', { class: 'mono nowrap', title: formatTime(event.recordedAt) }, formatClock(event.recordedAt)),
        h('td', {}, event.type),
        h('td', {}, line.step ?? ''),
        h('td', { class: 'num' }, line.attempt ?? ''),
        h('td', {}, line.error ? h('span', { class: 'error' }, line.error, ' ') : null, line.detail ?? ''),
      );
      rowsBySeq.set(event.seq, row);
      timelineBody.append(row);
      lastSeq = Math.max(lastSeq, event.seq);
    }
    slider.max = String(Math.max(lastSeq, 1));
  };

  /** Reads events after the last shown, page by page; true when there were any. */
  const readEvents = async () => {
    let grew = false;
    for (;;) {
      const page = await api.events(jobId, lastSeq, EVENTS_PAGE);
      if (stopped) return grew;
      addEvents(page.events);
      grew ||= page.events.length > 0;
      if (!page.more || page.events.length === 0) return grew;
    }
  };

  const refreshJob = async () => {
    const answer = await api.getJob(jobId);
    if (stopped) return;
    job = answer.job;
    origin = answer.state.forkedFrom;
    showSummary();
    if (follow) {
      slider.value = String(lastSeq);
      showState(answer.state, lastSeq);
    }
  };

  const poll = async () => {
    try {
      const grew = await readEvents();
      if (grew || job === undefined) await refreshJob();
      if (job !== undefined && !isFinished(job.status)) message.dataset.live = 'true';
      else delete message.dataset.live;
    } catch (error) {
      if (!stopped) message.textContent = error.status === 404 ? `No job ${jobId}.` : `Could not read the job: ${error.message}`;
      if (error.status === 404) return;
    }
    // Live until the job has finished and every event it has is shown (the last ones may have
    // landed between reading the events and reading the job); a finished job's log does not grow.
    const behind = job !== undefined && job.lastSeq > lastSeq;
    if (!stopped && (job === undefined || !isFinished(job.status) || behind)) pollTimer = setTimeout(poll, behind ? 0 : POLL_MS);
    else summary.dataset.polling = 'stopped';
  };

  const act = async (what, run) => {
    message.textContent = `${what}…`;
    try {
      await run();
      message.textContent = `${what}: done`;
      setFollow(true);
    } catch (error) {
      message.textContent = `${what} refused: ${error.name}: ${error.message}`;
    }
  };

  function actionBar() {
    const signalName = h('input', { name: 'signal', placeholder: 'signal name', 'aria-label': 'signal name', size: 14 });
    const signalPayload = h('input', { name: 'payload', placeholder: 'payload (JSON)', 'aria-label': 'signal payload', size: 18 });
    const reason = h('input', { name: 'reason', placeholder: 'reason', 'aria-label': 'reason', size: 14 });
    const forkFrom = h('input', { name: 'fork-from', placeholder: 'step name', 'aria-label': 'fork from step', size: 12 });
    const forkOutputs = h('input', {
      name: 'fork-outputs',
      placeholder: 'replaced results (JSON, optional)',
      'aria-label': 'replaced step results',
      size: 22,
    });
    const forkButton = h(
      'button',
      {
        type: 'button',
        id: 'fork-job',
        onclick: () => {
          const from = forkFrom.value.trim();
          if (from === '') {
            message.textContent = 'Name the step to fork from.';
            return;
          }
          let setOutputs;
          try {
            setOutputs = forkOutputs.value.trim() === '' ? undefined : JSON.parse(forkOutputs.value);
          } catch {
            message.textContent = 'The replaced results are not JSON: give {"<step>": <result>}.';
            return;
          }
          void act(`fork from "${from}"`, async () => {
            const forked = await api.fork(jobId, from, setOutputs);
            location.hash = `#/jobs/${encodeURIComponent(forked.jobId)}`;
          });
        },
      },
      'Fork from step',
    );
    const buttons = [
      h(
        'button',
        {
          type: 'button',
          id: 'send-signal',
          onclick: () => {
            let payload = null;
            try {
              payload = signalPayload.value.trim() === '' ? null : JSON.parse(signalPayload.value);
            } catch {
              message.textContent = 'The payload is not JSON (a string needs quotes).';
              return;
            }
            if (signalName.value.trim() === '') {
              message.textContent = 'Name the signal to send.';
              return;
            }
            void act(`signal "${signalName.value.trim()}"`, () => api.signal(jobId, signalName.value.trim(), payload));
          },
        },
        'Send signal',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'cancel-job',
          onclick: () => act('cancel', () => api.cancel(jobId, reason.value.trim() || 'cancelled from the web UI')),
        },
        'Cancel',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'terminate-job',
          class: 'danger',
          onclick: () => {
            if (!confirm(`Terminate ${jobId}? Its workflow will not run again (no compensation).`)) return;
            void act('terminate', () => api.terminate(jobId, reason.value.trim() || 'terminated from the web UI'));
          },
        },
        'Terminate',
      ),
    ];
    const element = h(
      'div',
      { class: 'actions', id: 'actions' },
      h('span', { class: 'group' }, signalName, signalPayload, buttons[0]),
      h('span', { class: 'group' }, reason, buttons[1], buttons[2]),
      // Fork works on finished jobs too (fixing a failed one is what it is for): never disabled.
      h('span', { class: 'group', 'data-slot': 'more-actions' }, forkFrom, forkOutputs, forkButton),
    );
    return {
      element,
      setEnabled(enabled) {
        for (const control of [signalName, signalPayload, reason, ...buttons]) control.disabled = !enabled;
      },
    };
  }

  followButton.disabled = true;
  void poll();
  return () => {
    stopped = true;
    clearTimeout(pollTimer);
    clearTimeout(slideTimer);
  };
}
