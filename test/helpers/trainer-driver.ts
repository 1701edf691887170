/**
 * A worker-like process for the launcher tests: what the fine-tune activity does with a trainer, in a process the
 * test can SIGKILL. It finds the round's job (or submits one), then polls it to the end, printing one JSON line
 * per change: `{"event": "submitted" | "found" | "status" | "done", ...}`.
 *
 *   tsx test/helpers/trainer-driver.ts '<CommandTrainerOptions + {runId, round, dataset} as JSON>'
 */
import { createCommandTrainer, type CommandTrainerOptions } from '../../lib/train/command/trainer.js';

interface DriverOptions extends CommandTrainerOptions {
  runId: string;
  round: number;
  dataset: string;
  epochs?: number;
}

const options = JSON.parse(process.argv[2]!) as DriverOptions;
const trainer = createCommandTrainer(options);
const tag = { runId: options.runId, round: options.round };
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function main(): Promise<void> {
  const found = await trainer.find(tag);
  let id: string;
  if (found && found.status !== 'failed' && found.status !== 'cancelled') {
    id = found.id;
    print({ event: 'found', id, status: found.status });
  } else {
    const job = await trainer.submit({
      baseModel: 'countdown-mlp',
      trainingFile: options.dataset,
      hyperparameters: { nEpochs: options.epochs ?? 4 },
      suffix: 'fw',
      seed: 11,
      tag,
    });
    id = job.id;
    print({ event: 'submitted', id });
  }
  let last = '';
  for (;;) {
    const job = await trainer.get(id);
    if (job.status !== last) {
      last = job.status;
      print({ event: 'status', id, status: job.status, progress: job.progress });
    }
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') {
      print({ event: 'done', job: { ...job, progressHistory: job.progressHistory?.length } });
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

main().catch((err: unknown) => {
  print({ event: 'error', message: (err as Error).message });
  process.exit(1);
});
