/**
 * The `flywheel` command. Every subcommand exits non-zero with a message that says what was wrong and what to do.
 */
import { Command, Option } from 'commander';
import { ConfigError } from '../config/load.js';
import { TaskFileError } from '../lib/tasks/jsonl.js';
import { MissingServiceError } from './connections.js';
import type { TrainCommandOptions } from '../localmodel/train-command.js';
import { UsageError } from './errors.js';
import { budgetCommand, controlCommand, resumeCommand } from './control.js';
import { reverifyCommand } from './reverify.js';
import { runCommand } from './run.js';
import { sqlCommand } from './sql.js';
import { statusCommand } from './status.js';
import { verifyCommand } from './verify.js';
import type { ExportOptions } from './export.js';
import { configureLogging, defaultLogFormat, LOG_FORMATS, type LogFormat } from '../telemetry/logger.js';

// Commands with heavy dependencies of their own (the embedded stack, workers, parquet, charts, metrics) are loaded when run, so that quick
// commands (`stop`, `status`) start fast.
const program = new Command()
  .name('flywheel')
  .description('Expert iteration as durable Temporal workflows: generate → verify → search → filter → fine-tune → evaluate, with every trace in Postgres.')
  .showHelpAfterError()
  .addOption(new Option('--log-format <format>', 'logs as readable lines (pretty) or JSON lines (json); default: pretty on a terminal, else json').choices(LOG_FORMATS))
  .hook('preAction', (command) => {
    const format = (command.opts() as { logFormat?: LogFormat }).logFormat;
    configureLogging({ format: format ?? defaultLogFormat() });
  });

program
  .command('demo')
  .description('Everything embedded: 5 rounds of Countdown with the local model, live progress, a table at the end')
  .option('--json', 'print one JSON object on stdout (progress goes to stderr)')
  .option('--rounds <n>', 'training rounds after round 0', (v) => positiveInt(v, '--rounds'))
  .option('--config <file>', 'run config to use instead of config/examples/countdown.yaml')
  .option('--tokens <mode>', 'what the embedded model shows as tokens: steps (default) or subword (like an LLM)')
  .action(async (options: { json?: boolean; rounds?: number; config?: string; tokens?: string }) => (await import('./demo.js')).demoCommand(options));

program
  .command('dev')
  .description('Start Postgres, the Temporal dev server (UI on :8233), the local model server and a worker; Ctrl-C stops them')
  .option('--no-worker', 'start the stack without a worker (run `flywheel worker` yourself)')
  .action(async (options: { worker: boolean }) => (await import('./dev.js')).devCommand(options));

program
  .command('run <config>')
  .description('Validate a run config (YAML or JSON), store the run and its problems, and start its workflow')
  .option('--json', 'print {"runId": "..."} on stdout')
  .option('--wait', 'follow progress until the run ends')
  .action(runCommand);

program
  .command('worker')
  .description('Serve flywheel task queues (all by default)')
  .addOption(
    new Option('--queues <list>', 'comma-separated roles to serve: control,generate,verify,train').default('control,generate,verify,train'),
  )
  .option('--metrics-port <port>', 'serve Prometheus metrics at http://<host>:<port>/metrics (0: any free port)')
  .option('--metrics-host <host>', 'the address the metrics server listens on', '0.0.0.0')
  .option('--generate-slots <n>', 'generate-queue activities (shards) this worker runs at once (default: 500, the most generate.maxShardsInFlight allows)')
  .option('--db-connections <n>', 'Postgres connections this worker opens at most (default: 16)')
  .action(async (options: { queues: string; metricsPort?: string; metricsHost?: string; generateSlots?: string; dbConnections?: string }) =>
    (await import('./worker-command.js')).workerCommand(options),
  );

program
  .command('status [run]')
  .description('A run: its state and per-round progress and metrics (without a run: the latest runs)')
  .option('--json', 'print one JSON object on stdout')
  .option('--follow', 'refresh until the run ends')
  .action(statusCommand);

program
  .command('resume <run>')
  .description('Retry the stage that failed after its retries (the round shows NeedsAttention)')
  .option('--note <text>', 'what you fixed, kept in the workflow history')
  .action(resumeCommand);

program
  .command('budget <run>')
  .description('Raise the budget of a run whose round waits before a stage that would pass it (NeedsAttention)')
  .option('--max-cost <amount>', 'the new budget.maxCost (in the currency of costs.models)')
  .option('--max-tokens <n>', 'the new budget.maxTokens')
  .action(budgetCommand);

for (const [name, description] of [
  ['pause', 'Pause a run before its next stage or shard'],
  ['unpause', 'Resume a paused run'],
  ['stop', 'Stop a run after its current stage'],
] as const) {
  program
    .command(`${name} <run>`)
    .description(description)
    .action((run: string) => controlCommand(name, run));
}

program
  .command('export <run>')
  .description('Training sets (or raw traces, or PRM step labels) of a round, a range or the whole run, as chat JSONL, ShareGPT or parquet (Hugging Face layout with a dataset card)')
  .option('--round <n>', 'one round')
  .option('--rounds <a-b>', 'a range of rounds, e.g. 1-3 (default: the whole run)')
  .addOption(new Option('--format <format>', 'chat: OpenAI/TRL messages JSONL; sharegpt: LLaMA-Factory (with dataset_info.json); parquet: data/train-*.parquet + README.md; prm / prm-parquet: the PRM datasets in TRL\'s stepwise layout (prompt, completions, labels)').choices(['chat', 'sharegpt', 'parquet', 'prm', 'prm-parquet']).default('chat'))
  .option('--traces', 'every trace (not only training sets) with its verdict, scores and search metadata, as JSON lines or parquet')
  .option('--out <path>', 'a file (chat, traces) or a folder (sharegpt, parquet); default: stdout')
  .option('--shard-rows <n>', 'rows per parquet file (default 200000)')
  .action(async (run: string, options: ExportOptions) => (await import('./export.js')).exportCommand(run, options));

program
  .command('report <run>')
  .description('The run as one self-contained HTML report (learning and coverage curves, funnel, search, difficulty, trainer, lineage, errors, config)')
  .option('--out <file>', 'where to write the page (default: report-<run>.html)')
  .option('--serve', 'serve it at a local URL instead, refreshing while the run is live')
  .option('--port <port>', 'port for --serve (default 8234; 0 picks a free one)')
  .option('--host <host>', 'address for --serve to listen on', '127.0.0.1')
  .action(async (run: string, options: { out?: string; serve?: boolean; port?: string; host?: string }) => (await import('./report-command.js')).reportCommand(run, options));

program
  .command('verify <verifier>')
  .description('One verdict, for debugging a verifier (exit 1 when wrong): flywheel verify math --gold="\\frac12" --pred="\\boxed{0.5}"')
  .option('--gold <answer>', 'the reference: text (→ {answer}) or a JSON object; @file reads a file')
  .option('--pred <text>', 'the model output to judge; @file reads a file')
  .option('--cases <file>', 'JSONL of {gold, pred, expected?, group?, options?}: verdicts, agreement with expected, disagreements')
  .option('--prompt <text>', 'the problem prompt (countdown reads numbers and target from it)')
  .option('--option <key=value...>', 'verifier options, e.g. --option caseSensitive=false')
  .option('--json', 'print the verdict as JSON')
  .action(verifyCommand);

program
  .command('reverify <run>')
  .description("Verdicts of the run's current verifier version for the traces that have none from it (Postgres only)")
  .option('--round <n>', 'only this round')
  .option('--json', 'print {"runId", "verifier", "version", "rounds": [{"round", "written"}]}')
  .action(reverifyCommand);

program
  .command('train-policy')
  .description('Train the embedded policy on a chat JSONL file into a checkpoint directory (prints progress JSON lines): the embedded trainer command for finetune.backend: command')
  .requiredOption('--data <file>', 'chat JSONL training file ({"messages": [...]} per line)')
  .requiredOption('--output <dir>', 'checkpoint directory to write (policy.json + manifest.json)')
  .option('--init <dir>', 'checkpoint directory to continue from (empty: the base model)')
  .option('--epochs <n>', 'epochs (empty: the default)')
  .option('--lr-multiplier <x>', 'learning-rate multiplier (empty: 1)')
  .option('--batch-size <n>', 'batch size (empty: the default)')
  .option('--seed <n>', 'seed', '0')
  .action(trainingAction(async () => (await import('../localmodel/train-policy.js')).runTrainPolicy));

program
  .command('train-prm')
  .description('Train the embedded value head (a PRM) on a stepwise JSONL file ({"prompt", "completions", "labels"} per line, TRL\'s PRM format) into a checkpoint directory (prints progress JSON lines): the embedded PRM trainer for finetune.prm.backend: command')
  .requiredOption('--data <file>', 'stepwise JSONL (optional "soft_labels": numbers in [0, 1] per step, the training target when present)')
  .requiredOption('--output <dir>', 'checkpoint directory to write (value.json [+ policy.json] + manifest.json)')
  .option('--init <dir>', 'checkpoint directory to continue from: a PRM (value.json) and/or a policy (policy.json); empty: the base head')
  .option('--epochs <n>', 'epochs (empty: the default)')
  .option('--lr-multiplier <x>', 'learning-rate multiplier (empty: 1)')
  .option('--batch-size <n>', 'batch size (empty: the default)')
  .option('--seed <n>', 'seed', '0')
  .action(trainingAction(async () => (await import('../localmodel/train-prm.js')).runTrainPrm));

/** The action of `train-policy` and `train-prm`: their numeric flags checked, bad input a usage error (exit code 2). */
function trainingAction(load: () => Promise<(options: TrainCommandOptions) => unknown>) {
  return async function train(options: Record<string, string | undefined>) {
    const run = await load();
    const { optionalNumberFlag, TrainPolicyInputError } = await import('../localmodel/train-command.js');
    try {
      run({
        data: options.data!,
        output: options.output!,
        init: options.init,
        epochs: optionalNumberFlag(options.epochs, '--epochs', true),
        learningRateMultiplier: optionalNumberFlag(options.lrMultiplier, '--lr-multiplier', false),
        batchSize: optionalNumberFlag(options.batchSize, '--batch-size', true),
        seed: options.seed === undefined || options.seed === '' || options.seed === '0' ? 0 : optionalNumberFlag(options.seed, '--seed', true),
      });
    } catch (err) {
      if (err instanceof TrainPolicyInputError) throw new UsageError(err.message);
      throw err;
    }
  };
}

program
  .command('sql [query]')
  .description('Run a SQL query against the flywheel database as a read-only login and print the rows (no query: print how to connect)')
  .option('--json', 'print rows as JSON')
  .option('--write', "as the database owner (can change what runs write), not the read-only login")
  .action(sqlCommand);

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number ≥ 0, got "${value}"`);
  return n;
}

/** Exit codes: 2 bad input (config, task file, arguments), 3 a service is missing, 1 anything else. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError || err instanceof TaskFileError || err instanceof UsageError) return 2;
  if (err instanceof MissingServiceError) return 3;
  return 1;
}

// `flywheel export ... | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`flywheel: ${message}\n`);
  process.exit(exitCodeFor(err));
});
