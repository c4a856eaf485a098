export { Engine, type EngineOptions, type JobChange } from './engine.ts';
export { HttpCommandServer } from './http-command-server.ts';
export { Refusal, type RefusalName } from './refusal.ts';
export { formatTimeline, type TimelineRow, timeline, timelineRow } from './timeline.ts';
