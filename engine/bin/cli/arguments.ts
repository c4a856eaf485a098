import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.ts';

/** Every option of every command; {@link COMMANDS} says which command takes which. */
const OPTIONS = {
  workflows: { type: 'string' },
  'data-dir': { type: 'string', default: '.ratchet' },
  main: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  input: { type: 'string' },
  'job-id': { type: 'string' },
  wait: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  concurrency: { type: 'string' },
  for: { type: 'string' },
  at: { type: 'string' },
  workflow: { type: 'string' },
  sample: { type: 'string' },
  step: { type: 'string' },
  type: { type: 'string' },
  'ack-wait': { type: 'string' },
  'http-port': { type: 'string' },
  'http-host': { type: 'string', default: '127.0.0.1' },
  from: { type: 'string' },
  'set-output': { type: 'string', multiple: true },
  'workflow-version': { type: 'string' },
  until: { type: 'string' },
  inspect: { type: 'boolean', default: false },
  'inspect-port': { type: 'string' },
  file: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Option = keyof typeof OPTIONS;

/** A command's options (besides --help) and the positional arguments it takes, at most. */
interface CommandShape {
  readonly options: readonly Option[];
  readonly positionals: readonly string[];
}

const HTTP: readonly Option[] = ['http-port', 'http-host'];
// Job commands reach the engine through a `ratchet dev` in --data-dir (or NATS_URL).
const JOB: readonly Option[] = ['data-dir'];

const COMMANDS: Readonly<Record<string, CommandShape>> = {
  dev: { options: ['workflows', 'data-dir', 'main', 'quiet', ...HTTP], positionals: [] },
  engine: { options: HTTP, positionals: [] },
  worker: { options: ['workflows', 'concurrency', 'ack-wait'], positionals: [] },
  start: { options: ['input', 'job-id', 'wait', ...JOB], positionals: ['<workflow>'] },
  status: { options: ['json', ...JOB], positionals: ['<jobId>'] },
  history: { options: ['json', 'step', 'type', ...JOB], positionals: ['<jobId>'] },
  state: { options: ['at', ...JOB], positionals: ['<jobId>'] },
  export: { options: JOB, positionals: ['<jobId>'] },
  verify: { options: ['workflows', 'workflow', 'sample', ...JOB], positionals: [] },
  replay: { options: ['workflows', 'until', 'inspect', 'inspect-port', 'file', ...JOB], positionals: ['<jobId>'] },
  fork: { options: ['from', 'set-output', 'job-id', 'workflow-version', 'wait', ...JOB], positionals: ['<jobId>'] },
  breaker: { options: ['for', ...JOB], positionals: ['list|trip|reset', '<name>'] },
};

/** Whether `ratchet <command>` exists. */
export function isCommand(command: string): boolean {
  return Object.hasOwn(COMMANDS, command);
}

/**
 * Parses a command's arguments. Anything the command does not take is a {@link UsageError}
 * naming it: an unknown option, an option of another command (it would be ignored), an option
 * without a value or with an empty one, one given twice, a positional argument too many.
 */
export function parseArguments(command: string, args: readonly string[]) {
  const shape = COMMANDS[command];
  if (shape === undefined) throw new UsageError(`unknown command "${command}"`);
  const takes = () =>
    shape.options.length === 0 ? 'it takes no options' : `its options: ${shape.options.map((o) => `--${o}`).join(', ')}`;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec(message)?.[1] ?? message;
      throw new UsageError(`ratchet ${command} does not take ${option} (${takes()})`);
    }
    if (code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError(`ratchet ${command}: ${message}`);
    throw error;
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || token.name === 'help') continue;
    const name = token.name as Option;
    if (!shape.options.includes(name)) throw new UsageError(`ratchet ${command} does not take ${token.rawName} (${takes()})`);
    const option: { type: string; multiple?: boolean } = OPTIONS[name];
    if (option.type === 'string' && token.value === '') throw new UsageError(`${token.rawName} needs a value, got an empty one`);
    if (seen.has(name) && option.multiple !== true) throw new UsageError(`${token.rawName} is given more than once`);
    seen.add(name);
  }
  const extra = parsed.positionals.slice(shape.positionals.length);
  if (extra.length > 0) {
    const wanted = shape.positionals.length === 0 ? 'no arguments' : shape.positionals.join(' ');
    throw new UsageError(`ratchet ${command} takes ${wanted}; unexpected: ${extra.join(' ')}`);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

function parse(args: readonly string[]) {
  return parseArgs({ args: [...args], allowPositionals: true, strict: true, tokens: true, options: OPTIONS });
}

/**
 * An integer option: digits only (no sign, spaces, `0x`, exponent or fraction), from `min` to `max`.
 */
export function integerOption(text: string, option: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (value >= min && value <= max) return value;
  if (min === 1 && max === Number.MAX_SAFE_INTEGER) throw new UsageError(`${option} must be a positive integer, got "${text}"`);
  throw new UsageError(`${option} must be an integer from ${min} to ${max}, got "${text}"`);
}

/** A TCP port; 0 asks for a free one. */
export function portOption(text: string, option: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (value >= 0 && value <= 65535) return value;
  throw new UsageError(`${option} must be a port from 0 to 65535, got "${text}"`);
}
