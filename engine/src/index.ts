export { Engine, type EngineOptions } from './engine.ts';
export { Refusal, type RefusalName } from './refusal.ts';
