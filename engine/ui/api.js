// The engine's JSON API, as the pages call it. Errors come back as { error: { name, message } }.

/** An answer of the API that is not 2xx: `status`, and the engine's `name` and `message`. */
export class ApiError extends Error {
  constructor(status, name, message) {
    super(message);
    this.status = status;
    this.name = name;
  }
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let value;
  try {
    value = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'BadResponse', `the engine answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok) {
    const error = value?.error ?? {};
    throw new ApiError(response.status, error.name ?? 'HttpError', error.message ?? `HTTP ${response.status}`);
  }
  return value;
}

const query = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
};
const job = (jobId) => `/api/jobs/${encodeURIComponent(jobId)}`;
const breaker = (name) => `/api/breakers/${encodeURIComponent(name)}`;

export const api = {
  listJobs: (filters) => call('GET', `/api/jobs${query(filters)}`),
  getJob: (jobId) => call('GET', job(jobId)),
  events: (jobId, after, limit) => call('GET', `${job(jobId)}/events${query({ after, limit })}`),
  stateAt: (jobId, at) => call('GET', `${job(jobId)}/state${query({ at })}`),
  signal: (jobId, name, payload) => call('POST', `${job(jobId)}/signal`, { name, payload }),
  cancel: (jobId, reason) => call('POST', `${job(jobId)}/cancel`, { reason }),
  terminate: (jobId, reason) => call('POST', `${job(jobId)}/terminate`, { reason }),
  fork: (jobId, from, setOutputs) => call('POST', `${job(jobId)}/fork`, setOutputs ? { from, setOutputs } : { from }),
  breakers: () => call('GET', '/api/breakers'),
  trip: (name, duration) => call('POST', `${breaker(name)}/trip`, duration ? { for: duration } : {}),
  reset: (name) => call('POST', `${breaker(name)}/reset`),
};
