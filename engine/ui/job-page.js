// One job: its header and actions, the time-travel slider with the JobState at the chosen event,
// and the event timeline, kept live by polling for new events until the job has finished. A job
// may have tens of thousands of events: the page reads the job (its newest state) first and draws
// only what is in sight: the timeline's visible rows (read as they scroll into view) and a page
// of the journal.
import { api } from './api.js';
import { fill, h } from './dom.js';
import { formatDuration, formatTime, isFinished } from './format.js';
import { jobStateView } from './job-state-view.js';
import { timelineView } from './timeline-view.js';

const POLL_MS = 1000;
const EVENTS_PAGE = 1000;

/** Renders the page of `jobId`; returns a function that stops its polling. */
export function renderJob(main, jobId) {
  let stopped = false;
  let pollTimer;
  let slideTimer;
  /** The job as last read, its newest seq known, and whether the slider follows the newest event. */
  let job;
  /** Where the job was forked from (JobState.forkedFrom), if it was. */
  let origin;
  let lastSeq = 0;
  /** The seq after which the live poll reads: the newest event read in order from the end. */
  let tailSeq = 0;
  let follow = true;
  /** The state shown and its seq, redrawn when the journal is paged. */
  let shown;
  /** The journal's page: the index of its first entry shown, or undefined for the last page. */
  let journalStart;
  let problemsOnly = false;

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
  const timeline = timelineView({
    readPage: (after, limit) => api.events(jobId, after, limit),
    onPick: (seq) => travel(seq),
    onError: (error) => (message.textContent = `Could not read events: ${error.message}`),
    onRead: () => showLabel(),
  });
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
      h('section', { class: 'timeline-column' }, h('h2', {}, 'Timeline'), timeline.element),
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

  const drawState = () => {
    fill(
      stateBox,
      jobStateView(shown.state, {
        start: journalStart,
        problemsOnly,
        onPage: (start) => {
          journalStart = start;
          drawState();
        },
        onProblemsOnly: (on) => {
          problemsOnly = on;
          journalStart = undefined;
          drawState();
        },
      }),
    );
  };

  /** Shows `state`, the fold up to event `at`; `scroll` brings that event into the timeline's sight. */
  const showState = (state, at, scroll) => {
    shown = { state, at };
    drawState();
    showLabel();
    timeline.select(at, scroll);
  };

  /** Says which event the state is at (its type once the timeline has read it). */
  const showLabel = () => {
    if (shown === undefined) return;
    const type = timeline.typeOf(shown.at);
    sliderLabel.textContent = `at event ${shown.at} of ${lastSeq}${type ? ` · ${type}` : ''}${follow ? (isFinished(job?.status) ? ' (latest)' : ' (latest, live)') : ''}`;
  };

  const setFollow = (on) => {
    follow = on;
    followButton.disabled = on;
    if (on && job !== undefined) void refreshJob(true).catch((error) => (message.textContent = `Could not read the job: ${error.message}`));
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
        if (!stopped && Number(slider.value) === seq) showState(state, seq, true);
      } catch (error) {
        message.textContent = `Could not fold the state at ${seq}: ${error.message}`;
      }
    }, 80);
  };
  slider.addEventListener('input', () => travel(Number(slider.value)));

  /** The job has events up to `seq`: the slider and the timeline reach it. */
  const grow = (seq) => {
    lastSeq = Math.max(lastSeq, seq);
    slider.max = String(Math.max(lastSeq, 1));
    timeline.setTotal(lastSeq);
  };

  /** Reads the events after the newest read in order, page by page; true when the job has events it did not have. */
  const readEvents = async () => {
    const before = lastSeq;
    for (;;) {
      const page = await api.events(jobId, tailSeq, EVENTS_PAGE);
      if (stopped) return false;
      timeline.add(page.events);
      for (const event of page.events) tailSeq = Math.max(tailSeq, event.seq);
      grow(tailSeq);
      if (!page.more || page.events.length === 0) return lastSeq > before;
    }
  };

  /**
   * Reads the job and, when following it, shows its newest state. `scroll` brings the timeline to
   * that event; a poll does not (the timeline stays at the end by itself unless scrolled away).
   */
  const refreshJob = async (scroll = false) => {
    const answer = await api.getJob(jobId);
    if (stopped) return;
    job = answer.job;
    origin = answer.state.forkedFrom;
    // The state is as new as the job or newer (the engine may have appended since the row was written).
    grow(Math.max(job.lastSeq, answer.state.lastSeq ?? 0));
    showSummary();
    if (follow) {
      slider.value = String(lastSeq);
      showState(answer.state, answer.state.lastSeq ?? lastSeq, scroll);
    }
  };

  const poll = async () => {
    try {
      if (job === undefined) {
        // First the job and its newest state: the page is usable at once. The timeline reads the
        // events in sight itself; the poll reads only those the job appends from now on.
        await refreshJob();
        tailSeq = lastSeq;
      }
      if (await readEvents()) await refreshJob();
      if (job !== undefined && !isFinished(job.status)) message.dataset.live = 'true';
      else delete message.dataset.live;
    } catch (error) {
      if (!stopped) message.textContent = error.status === 404 ? `No job ${jobId}.` : `Could not read the job: ${error.message}`;
      if (error.status === 404) return;
    }
    // Live until the job has finished and every event it has is shown (the last ones may have
    // landed between reading the events and reading the job); a finished job's log does not grow.
    const behind = job !== undefined && job.lastSeq > tailSeq;
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
