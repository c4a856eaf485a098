export { Engine } from './engine.ts';
export type { EngineOptions, JobChange } from './engine-options.ts';
export { duration, formatHistory, type HistoryFilter } from './history-text.ts';
export { HttpCommandServer } from './http-command-server.ts';
export { Refusal, type RefusalName } from './refusal.ts';
export { formatTimeline, type TimelineRow, timeline, timelineRow } from './timeline.ts';
