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
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`could not load the workflows module ${path}: ${loadError(error)}`, { cause: error });
  }
  // One workflow may be exported under several names (`export default hello` beside
  // `export const hello`): it counts once. Two different ones with one name are a mistake.
  const exportedAs = new Map<Workflow<never, unknown>, string[]>();
  for (const [key, value] of Object.entries(module)) if (isWorkflow(value)) exportedAs.set(value, [...(exportedAs.get(value) ?? []), key]);
  const workflows = [...exportedAs.keys()];
  for (const [i, workflow] of workflows.entries()) {
    const other = workflows.slice(i + 1).find((w) => w.name === workflow.name);
    if (other) {
      throw new Error(
        `${path} exports two different workflows named "${workflow.name}" (exported as ${exportedAs.get(workflow)?.join(', ')} and as ${exportedAs.get(other)?.join(', ')}): give each its own name`,
      );
    }
  }
  if (workflows.length === 0) throw new Error(`${path} exports no workflow (export the result of defineWorkflow)`);
  const breakers = [...new Set(Object.values(module).filter(isBreaker))];
  const main = typeof module.main === 'function' ? (module.main as WorkflowModule['main']) : undefined;
  return main ? { workflows, breakers, main } : { workflows, breakers };
}

/**
 * Why a module did not load. A syntax error's message alone says neither file nor line: Node puts
 * them, with the line and a caret under the fault, at the head of its stack.
 */
function loadError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const what = error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
  if (!(error instanceof SyntaxError)) return what;
  const stack = error.stack ?? '';
  const where = stack.slice(0, Math.max(0, stack.search(/^\w*Error\b/m))).trimEnd();
  return where === '' ? what : `${what}\n${where}`;
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
