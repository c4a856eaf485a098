// The web UI: a hash router over three pages. Each page renders into <main> and returns a
// function that stops its timers when another page takes over.
import { renderBreakers } from './breakers-page.js';
import { h } from './dom.js';
import { renderJob } from './job-page.js';
import { renderJobs } from './jobs-page.js';

let stopPage = () => {};

function route() {
  stopPage();
  const main = document.getElementById('page');
  main.replaceChildren();
  const hash = location.hash.replace(/^#/, '') || '/jobs';
  const [path, search = ''] = hash.split('?');
  const params = new URLSearchParams(search);
  const jobMatch = /^\/jobs\/(.+)$/.exec(path);
  let page = 'jobs';
  if (jobMatch) {
    stopPage = renderJob(main, decodeURIComponent(jobMatch[1]));
  } else if (path === '/breakers') {
    page = 'breakers';
    stopPage = renderBreakers(main);
  } else if (path === '/jobs') {
    stopPage = renderJobs(main, params);
  } else {
    main.append(h('p', { class: 'error' }, `No page ${path}. `, h('a', { href: '#/jobs' }, 'Jobs')));
    stopPage = () => {};
  }
  for (const link of document.querySelectorAll('[data-nav]')) link.classList.toggle('active', link.dataset.nav === page);
}

window.addEventListener('hashchange', route);
route();
