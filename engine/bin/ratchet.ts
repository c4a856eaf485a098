#!/usr/bin/env node
// The `ratchet` command: the composition root. It alone reads process.env and wires the
// engine, worker, sdk and store packages together; the packages' own sources never import
// each other against the arrows.
//
// Each command imports what it needs when it runs (`await import`): loading every package costs
// a few hundred ms, which a quick command such as `ratchet history` should not pay. Run it through
// bin/ratchet.mjs, which turns on Node's compile cache before this file loads.
import type { Duration } from '@ratchet/protocol';
import { integerOption, parseArguments, portOption } from './cli/arguments.ts';
import { DEFAULT_NATS_URL } from './cli/defaults.ts';
import type { EngineConnection } from './cli/engine-connection.ts';
import { UsageError } from './cli/usage-error.ts';

const USAGE = `usage: ratchet <command> [options]

  dev [--workflows <module>] [--data-dir .ratchet] [--main] [--quiet] [--http-port <p>] [--http-host <h>]
        engine + worker in one process, the log in PGlite under --data-dir (one dev per data dir)
  engine [--http-port <p>] [--http-host <h>]
                                  serve against DATABASE_URL (Postgres) and NATS_URL; web UI and
                                  HTTP API on http://127.0.0.1:7420/ (--http-port 0: a free port)
  worker --workflows <module> [--concurrency <n>] [--ack-wait <ms>]
                                  run the module's workflows, tasks from NATS_URL
  start <workflow> [--input <json>] [--job-id <id>] [--wait]
  status <jobId> [--json]
  history <jobId> [--json] [--step <name>] [--type <EventType>]
  state <jobId> [--at <seq>]      the JobState folded up to an event (time travel)
  export <jobId>                  the job's history as JSON
  verify --workflows <module> [--workflow <name>] [--sample <n>]
                                  deploy gate: replay running jobs against the module, list any that break
  replay <jobId> --workflows <module> [--until <seq>] [--inspect] [--inspect-port <p>]
                                  replay the job's history against the module's code, no side effects;
                                  --until stops at an event, --inspect waits for a debugger first (on a
                                  free port; --inspect-port 9229 for chrome://inspect to find it)
  replay --file <job.json> --workflows <module> [--until <seq>] [--inspect] [--inspect-port <p>]
                                  the same on a history \`ratchet export\` wrote (no engine needed)
  fork <jobId> --from <step> [--set-output <step>=<json>]... [--job-id <id>] [--workflow-version <v>] [--wait]
                                  a new job that reuses the job's recorded calls before <step> and runs on from it
  breaker list | breaker trip <name> [--for 1m] | breaker reset <name>

Job commands talk to a running \`ratchet dev\` in --data-dir, or to NATS_URL when it is set.
Environment: DATABASE_URL, NATS_URL, RATCHET_PREFIX (default ratchet; 1-64 lowercase letters, digits or -),
RATCHET_LOG_LEVEL (default info), RATCHET_API_TOKEN (required with an --http-host beyond loopback: every HTTP request must carry it).`;

const DEFAULT_WORKFLOWS = new URL('../../sdk/examples/orders.ts', import.meta.url).pathname;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const { values, positionals } = parseArguments(command, rest);
  const env = process.env;
  const prefix = env.RATCHET_PREFIX ?? 'ratchet';
  const checkPrefix = async () => {
    const { prefixProblem } = await import('@ratchet/protocol');
    const problem = prefixProblem(prefix, 'RATCHET_PREFIX');
    if (problem !== undefined) throw new UsageError(problem);
  };
  const logLevel = env.RATCHET_LOG_LEVEL ?? 'info';
  const dataDir = values['data-dir'];
  const natsUrl = env.NATS_URL || undefined;
  const apiToken = env.RATCHET_API_TOKEN || undefined;
  const http = () => {
    const host = values['http-host'];
    if (!apiToken && !['127.0.0.1', '::1', 'localhost'].includes(host)) {
      throw new UsageError(
        `--http-host ${host} serves the HTTP API and UI beyond loopback: set RATCHET_API_TOKEN (16 or more characters) so every request must carry it`,
      );
    }
    const port = values['http-port'];
    return { httpHost: host, httpPort: port === undefined ? undefined : portOption(port, '--http-port'), apiToken };
  };
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`ratchet ${command} needs ${what}`);
    return value;
  };
  /** Runs a job command on a connection to the engine, closing it after. */
  const withEngine = async (work: (engine: EngineConnection) => Promise<number>): Promise<number> => {
    const { connectToEngine } = await import('./cli/engine-connection.ts');
    await checkPrefix();
    const engine = await connectToEngine({ natsUrl, dataDir, prefix, apiToken, command: `ratchet ${command}` });
    try {
      return await work(engine);
    } finally {
      await engine.close();
    }
  };
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  switch (command) {
    case 'dev': {
      const { runDev } = await import('./cli/dev.ts');
      await runDev({ workflows: values.workflows ?? DEFAULT_WORKFLOWS, dataDir, main: values.main, quiet: values.quiet, ...http() });
      return 0;
    }
    case 'engine': {
      const { runEngine } = await import('./cli/servers.ts');
      await checkPrefix();
      await runEngine({
        databaseUrl: need(env.DATABASE_URL, 'DATABASE_URL'),
        natsUrl: natsUrl ?? DEFAULT_NATS_URL,
        prefix,
        logLevel,
        ...http(),
      });
      return 0;
    }
    case 'worker': {
      const { runWorker } = await import('./cli/servers.ts');
      await checkPrefix();
      await runWorker({
        workflows: need(values.workflows, '--workflows <module>'),
        natsUrl: natsUrl ?? DEFAULT_NATS_URL,
        prefix,
        logLevel,
        ...(values.concurrency === undefined
          ? {}
          : { concurrency: integerOption(values.concurrency, '--concurrency', 1, MAX_CONCURRENCY) }),
        ...(values['ack-wait'] === undefined ? {} : { ackWaitMs: integerOption(values['ack-wait'], '--ack-wait', 1, MAX_TIMER_MS) }),
      });
      return 0;
    }
    case 'breaker': {
      const op = need(positionals[0], 'list, trip or reset');
      if (op !== 'list' && op !== 'trip' && op !== 'reset') throw new UsageError(`ratchet breaker takes list, trip or reset, not "${op}"`);
      const name = op === 'list' ? undefined : need(positionals[1], `a breaker name (ratchet breaker ${op} <name>)`);
      if (op === 'list' && positionals[1] !== undefined)
        throw new UsageError(`ratchet breaker list takes no name; unexpected: ${positionals[1]}`);
      if (op !== 'trip' && values.for !== undefined) throw new UsageError(`--for goes with ratchet breaker trip, not ${op}`);
      const [{ toMs }, { controlBreaker }] = await Promise.all([import('@ratchet/protocol'), import('./cli/jobs.ts')]);
      const forMs = values.for === undefined ? undefined : usage(() => toMs(values.for as Duration, '--for'));
      return withEngine((engine) => controlBreaker(engine, op, name, forMs));
    }
    case 'verify': {
      const workflows = need(values.workflows, '--workflows <module>');
      const options = {
        ...(values.workflow === undefined ? {} : { workflow: values.workflow }),
        ...(values.sample === undefined ? {} : { sample: integerOption(values.sample, '--sample', 1) }),
      };
      const { verifyJobs } = await import('./cli/replay.ts');
      return withEngine((engine) => verifyJobs(engine, workflows, options));
    }
    case 'replay': {
      const workflows = need(values.workflows, '--workflows <module>');
      const file = values.file;
      if (file !== undefined && positionals[0] !== undefined)
        throw new UsageError(`ratchet replay takes a job id or --file, not both (got ${positionals[0]} and --file ${file})`);
      const target = file === undefined ? need(positionals[0], 'a job id (or --file <exported.json>)') : undefined;
      const options = {
        ...(values.until === undefined ? {} : { until: integerOption(values.until, '--until', 1) }),
        inspect: values.inspect || values['inspect-port'] !== undefined,
        ...(values['inspect-port'] === undefined ? {} : { inspectPort: portOption(values['inspect-port'], '--inspect-port') }),
      };
      const { replayFile, replayJob } = await import('./cli/replay.ts');
      if (target === undefined) return replayFile(file as string, workflows, options);
      return withEngine((engine) => replayJob(engine, target, workflows, options));
    }
    case 'fork': {
      const target = need(positionals[0], 'a job id');
      const from = need(values.from, '--from <step>');
      const { forkJob } = await import('./cli/fork.ts');
      return withEngine((engine) =>
        forkJob(engine, target, {
          from,
          setOutputs: values['set-output'] ?? [],
          wait: values.wait,
          ...(values['job-id'] === undefined ? {} : { forkJobId: values['job-id'] }),
          ...(values['workflow-version'] === undefined ? {} : { version: values['workflow-version'] }),
        }),
      );
    }
    case 'history': {
      const target = need(positionals[0], 'a job id');
      const [{ EVENT_TYPES }, { showHistory }] = await Promise.all([import('@ratchet/protocol'), import('./cli/history.ts')]);
      const type = values.type;
      if (type !== undefined && !(EVENT_TYPES as readonly string[]).includes(type))
        throw new UsageError(`--type ${type} is not an event type (the types: ${EVENT_TYPES.join(', ')})`);
      return withEngine((engine) =>
        showHistory(engine, target, values.json, {
          ...(values.step === undefined ? {} : { step: values.step }),
          ...(type === undefined ? {} : { type }),
        }),
      );
    }
    case 'start':
    case 'status':
    case 'state':
    case 'export': {
      const target = need(positionals[0], command === 'start' ? 'a workflow name' : 'a job id');
      const at = values.at === undefined ? undefined : integerOption(values.at, '--at', 1);
      const { exportJob, showState, showStatus, startJob } = await import('./cli/jobs.ts');
      return withEngine((engine) => {
        if (command === 'start')
          return startJob(engine, { workflow: target, input: values.input, jobId: values['job-id'], wait: values.wait });
        if (command === 'status') return showStatus(engine, target, values.json);
        if (command === 'state') return showState(engine, target, at);
        return exportJob(engine, target);
      });
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** The most concurrent jobs `ratchet worker --concurrency` takes. */
const MAX_CONCURRENCY = 10_000;
/** The longest a Node timer waits (ms): the most `--ack-wait` takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Runs `parse`; an error it throws about its input is a usage error. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

// The reader of the output went away (`ratchet history <jobId> | head`): it has all it wants, so
// stop there instead of dying on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `ratchet: ${error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)}\n`,
    );
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
