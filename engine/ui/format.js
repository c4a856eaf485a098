// How times, durations and values read on the page.

/** A time as local date and time with milliseconds. */
export function formatTime(ms) {
  if (ms === undefined || ms === null) return '';
  const date = new Date(ms);
  const pad = (n, width = 2) => String(n).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** A time of day with milliseconds (the date is in the full form, `formatTime`). */
export function formatClock(ms) {
  return formatTime(ms).slice(11);
}

/** A duration as the two largest units (1h 4m, 3.2 s, 45 ms). */
export function formatDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return `${minutes}m ${seconds % 60}s`;
}

/** A value as compact JSON, cut at `max` characters. */
export function preview(value, max = 200) {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** True once a job can change no more. */
export function isFinished(status) {
  return status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'continued';
}
