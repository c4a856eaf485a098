export { Engine } from './engine.ts';
export type { EngineOptions, JobChange } from './engine-options.ts';
export { duration, formatHistory, type HistoryFilter } from './history-text.ts';
export { HttpServer, type HttpServerOptions } from './http/http-server.ts';
export type { EngineCommands, JobReads } from './http/json-api.ts';
export { Refusal, type RefusalName } from './refusal.ts';
export { formatTimeline, type TimelineRow, timeline, timelineRow } from './timeline.ts';
