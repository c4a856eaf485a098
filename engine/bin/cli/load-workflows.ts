import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobChange } from '@ratchet/engine';
import type { Breaker, Client, Workflow } from '@ratchet/sdk';

/** What `ratchet dev --main` hands a workflow module's `main` export. */
export interface MainContext {
  readonly client: Client;
  /** Where the module keeps its own files (`.ratchet/`). */
  readonly dataDir: string;
  /** Calls `listener` for every append the engine commits. */
  onChange(listener: (change: JobChange) => void): void;
  /** Simulates a worker crash: the worker walks away from its jobs and a new worker takes over. */
  crashWorker(): Promise<void>;
  log(message: string): void;
}

export interface WorkflowModule {
  readonly workflows: readonly Workflow<never, unknown>[];
  /** Exported `defineBreaker` results, which its steps may name. */
  readonly breakers: readonly Breaker[];
  readonly main?: (context: MainContext) => Promise<void>;
}

/** Imports a module and collects every exported workflow definition (and `main`, if exported). */
export async function loadWorkflows(path: string): Promise<WorkflowModule> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const workflows = Object.values(module).filter(isWorkflow);
  if (workflows.length === 0) throw new Error(`${path} exports no workflow (export the result of defineWorkflow)`);
  const breakers = Object.values(module).filter(isBreaker);
  const main = typeof module.main === 'function' ? (module.main as WorkflowModule['main']) : undefined;
  return main ? { workflows, breakers, main } : { workflows, breakers };
}

function isBreaker(value: unknown): value is Breaker {
  const candidate = value as Partial<Breaker> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.policy?.cooldownMs === 'number'
  );
}

function isWorkflow(value: unknown): value is Workflow<never, unknown> {
  const candidate = value as Partial<Workflow> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.version === 'string' &&
    typeof candidate.run === 'function'
  );
}
