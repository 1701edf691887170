/**
 * `/v1/fine_tuning/jobs`: a queue that trains one job at a time in a worker thread.
 *
 * A job goes validating_files → queued → running → succeeded | failed | cancelled, with events along the way.
 * Everything is written to the data directory as it happens; a job that was queued or running when the server
 * stopped runs again from the start when it comes back, with the same seed, so the same job id ends with the same
 * model (weights and name).
 */
import { Worker } from 'node:worker_threads';
import type { FineTuningJob, FineTuningJobEvent } from 'openai/resources/fine-tuning/jobs/jobs';
import { TrainingFileError, parseTrainingJsonl } from './dataset.js';
import type { FileStore } from './files.js';
import { ApiError, badRequest, cursorPage, notFound, queryLimit } from './http.js';
import type { ModelRegistry } from './models.js';
import { BASE_MODEL, SUBWORD_BASE_MODEL, policyToJson } from './policy.js';
import type { DataDir } from './store.js';
import { newId, nowSeconds } from './store.js';
import { DEFAULT_TRAIN } from './train.js';
import { readHyperparameters, readMetadata, readMethod, readSuffix } from './job-params.js';
import { parseStepwiseJsonl } from './stepwise.js';
import { DEFAULT_VALUE_TRAIN, valueToJson } from './value.js';
import type { TrainJobInput, TrainJobMessage } from './train-worker.js';

/** The job as OpenAI returns it, plus the suffix it was asked for (OpenAI's API returns that field too). */
type StoredJob = FineTuningJob & { user_provided_suffix?: string | null };
type Status = StoredJob['status'];

const TERMINAL: readonly Status[] = ['succeeded', 'failed', 'cancelled'];

/** A job with the value objective (`method.type: prm`). */
function isPrm(job: StoredJob): boolean {
  return (job.method?.type as string | undefined) === 'prm';
}

/** The worker module: the TypeScript source through a tsx bootstrap when running from sources. */
function workerEntry(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('./train-worker-boot.mjs', import.meta.url) : new URL('./train-worker.js', import.meta.url);
}

export class FineTuningJobs {
  private readonly jobs = new Map<string, StoredJob>();
  private active: { id: string; worker: Worker } | null = null;
  private closed = false;

  constructor(
    private readonly dir: DataDir,
    private readonly files: FileStore,
    private readonly models: ModelRegistry,
    private readonly log: (line: string) => void,
  ) {
    for (const name of dir.list('jobs', '.json')) {
      const job = dir.readJson<StoredJob>(`jobs/${name}`);
      this.jobs.set(job.id, job);
    }
  }

  /** Picks up work left from a previous run of the server: re-validates, re-queues and re-runs. */
  resume(): void {
    for (const job of this.sorted()) {
      if (job.status === 'running') {
        this.event(job, 'Server restarted while this job was running; running it again from the start with the same seed.', 'warn');
        this.update(job, { status: 'queued' });
      } else if (job.status === 'validating_files') {
        this.validate(job.id);
      }
    }
    this.pump();
  }

  /** `POST /v1/fine_tuning/jobs` */
  create(body: Record<string, unknown>): StoredJob {
    const model = typeof body.model === 'string' ? body.model : '';
    if (!model) throw new ApiError(400, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
    if (!this.models.has(model)) {
      throw badRequest('model', `Invalid 'model': '${model}' does not exist here; fine-tune '${BASE_MODEL}', '${SUBWORD_BASE_MODEL}' or one of your fine-tuned models.`);
    }
    const trainingFile = typeof body.training_file === 'string' ? body.training_file : '';
    if (!trainingFile) throw new ApiError(400, "Missing required parameter: 'training_file'.", 'training_file', 'missing_required_parameter');
    this.requireFile(trainingFile, 'training_file');
    const validationFile = typeof body.validation_file === 'string' ? body.validation_file : null;
    if (validationFile) this.requireFile(validationFile, 'validation_file');
    const type = readMethod(body);
    const hyperparameters = readHyperparameters(body, type === 'prm' ? DEFAULT_VALUE_TRAIN : DEFAULT_TRAIN);
    const suffix = readSuffix(body.suffix);
    const seed = body.seed === undefined || body.seed === null ? Math.floor(Math.random() * 2 ** 31) : body.seed;
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) {
      throw badRequest('seed', `Invalid 'seed': expected an integer from 0 to ${2 ** 31 - 1}.`);
    }
    const metadata = readMetadata(body.metadata);
    const id = newId('ftjob');
    const job: StoredJob = {
      id,
      object: 'fine_tuning.job',
      created_at: nowSeconds(),
      error: null,
      fine_tuned_model: null,
      finished_at: null,
      hyperparameters,
      model,
      organization_id: 'org-localmodel',
      result_files: [],
      seed,
      status: 'validating_files',
      trained_tokens: null,
      training_file: trainingFile,
      validation_file: validationFile,
      estimated_finish: null,
      integrations: null,
      metadata,
      // `prm` is this server's own method (a value head on stepwise labels); OpenAI's type has no room for it.
      method: (type === 'prm' ? { type: 'prm', prm: { hyperparameters } } : { type: 'supervised', supervised: { hyperparameters } }) as StoredJob['method'],
      ...(suffix ? { user_provided_suffix: suffix } : {}),
    };
    this.jobs.set(id, job);
    this.save(job);
    this.event(job, `Created fine-tuning job: ${id}`);
    this.event(job, `Validating training file: ${trainingFile}`);
    setImmediate(() => this.validate(id));
    return job;
  }

  private requireFile(id: string, field: string): void {
    try {
      this.files.get(id);
    } catch {
      throw badRequest(field, `Invalid '${field}': no file with id '${id}'; upload it first with POST /v1/files.`);
    }
  }

  get(id: string): StoredJob {
    const job = this.jobs.get(id);
    if (!job) throw notFound('fine-tuning job', id, 'fine_tuning_job_id');
    return job;
  }

  /** `GET /v1/fine_tuning/jobs`: newest first, with `after`, `limit` and `metadata[key]=value` filters. */
  list(query: URLSearchParams) {
    const wanted = [...query.entries()].flatMap(([k, v]) => {
      const m = /^metadata\[(.+)\]$/.exec(k);
      return m ? [[m[1]!, v] as const] : [];
    });
    const jobs = this.sorted()
      .reverse()
      .filter((job) => wanted.every(([k, v]) => job.metadata?.[k] === v));
    const page = cursorPage(jobs, query.get('after'), queryLimit(query, 20, 100));
    return { object: page.object, data: page.data, has_more: page.has_more };
  }

  /** `GET /v1/fine_tuning/jobs/{id}/events`: newest first. */
  events(id: string, query: URLSearchParams) {
    this.get(id);
    const events = this.dir.readJsonLines<FineTuningJobEvent>(`jobs/${id}.events.jsonl`).reverse();
    const page = cursorPage(events, query.get('after'), queryLimit(query, 20, 1000));
    return { object: page.object, data: page.data, has_more: page.has_more };
  }

  /** `POST /v1/fine_tuning/jobs/{id}/cancel` */
  cancel(id: string): StoredJob {
    const job = this.get(id);
    if (job.status === 'cancelled') return job;
    if (TERMINAL.includes(job.status)) {
      throw new ApiError(400, `Job ${id} has already ${job.status}; only jobs that have not finished can be cancelled.`, 'fine_tuning_job_id', 'invalid_state');
    }
    if (this.active?.id === id) {
      const { worker } = this.active;
      this.active = null;
      void worker.terminate();
    }
    this.event(job, 'Fine-tuning job cancelled.');
    this.update(job, { status: 'cancelled', finished_at: nowSeconds() });
    this.pump();
    return job;
  }

  /** Stops the running worker, leaving its job `running` on disk so the next start runs it again. */
  async close(): Promise<void> {
    this.closed = true;
    const active = this.active;
    this.active = null;
    if (active) await active.worker.terminate();
  }

  private sorted(): StoredJob[] {
    return [...this.jobs.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  private validate(id: string): void {
    const job = this.jobs.get(id);
    if (!job || job.status !== 'validating_files' || this.closed) return;
    try {
      const text = this.files.content(job.training_file).toString('utf8');
      if (isPrm(job)) {
        const set = parseStepwiseJsonl(text);
        const skipped = set.skipped.length ? ` (${set.skipped.length} lines skipped, first: line ${set.skipped[0]!.line}, ${set.skipped[0]!.reason})` : '';
        this.event(job, `Files validated: ${set.traces} traces, ${set.examples.length} labelled steps (${set.positives} good)${skipped}. Moving job to queued state.`);
        this.update(job, { status: 'queued' });
        this.pump();
        return;
      }
      const set = parseTrainingJsonl(text);
      const skipped = set.skipped.length ? ` (${set.skipped.length} lines skipped, first: line ${set.skipped[0]!.line}, ${set.skipped[0]!.reason})` : '';
      this.event(job, `Files validated: ${set.traces} traces, ${set.examples.length} step decisions${skipped}. Moving job to queued state.`);
      this.update(job, { status: 'queued' });
    } catch (err) {
      this.fail(job, err);
    }
    this.pump();
  }

  /** Starts the oldest queued job when nothing is running. */
  private pump(): void {
    if (this.active || this.closed) return;
    const job = this.sorted().find((j) => j.status === 'queued');
    if (!job) return;
    let input: TrainJobInput;
    try {
      const prm = isPrm(job);
      const initValue = prm ? this.models.value(job.model, 'model', true) : null;
      input = {
        method: prm ? 'prm' : 'supervised',
        fileText: this.files.content(job.training_file).toString('utf8'),
        init: this.models.isBase(job.model) ? null : policyToJson(this.models.policy(job.model)),
        initValue: initValue ? valueToJson(initValue) : null,
        epochs: job.hyperparameters.n_epochs as number,
        learningRate: (prm ? DEFAULT_VALUE_TRAIN : DEFAULT_TRAIN).learningRate * (job.hyperparameters.learning_rate_multiplier as number),
        batchSize: job.hyperparameters.batch_size as number,
        seed: job.seed,
      };
    } catch (err) {
      this.fail(job, err);
      this.pump();
      return;
    }
    this.update(job, { status: 'running' });
    this.event(job, 'Fine-tuning job started.');
    this.log(`fine-tuning ${job.id}: started (${job.model}, ${input.epochs} epochs)`);
    const worker = new Worker(workerEntry(), { workerData: input });
    const active = { id: job.id, worker };
    this.active = active;
    let settled = false;
    const finish = () => {
      settled = true;
      if (this.active === active) this.active = null;
      void worker.terminate();
      this.pump();
    };
    worker.on('message', (message: TrainJobMessage) => {
      if (this.active !== active) return;
      switch (message.type) {
        case 'progress':
          this.event(job, `Epoch ${message.epoch}/${message.epochs}: training loss=${message.loss.toFixed(4)}`, 'info', 'metrics', {
            step: message.epoch,
            train_loss: message.loss,
          });
          break;
        case 'done':
          this.succeed(job, message);
          finish();
          break;
        case 'failed':
          this.fail(job, message.invalidFile ? new TrainingFileError(message.message) : new Error(message.message));
          finish();
          break;
      }
    });
    worker.on('error', (err) => {
      if (this.active !== active || settled) return;
      this.fail(job, new Error(`the training worker crashed: ${err.message}`));
      finish();
    });
    worker.on('exit', (code) => {
      if (this.active !== active || settled) return;
      this.fail(job, new Error(`the training worker exited with code ${code} before finishing`));
      finish();
    });
  }

  private succeed(job: StoredJob, done: Extract<TrainJobMessage, { type: 'done' }>): void {
    const suffix = job.user_provided_suffix ?? '';
    const modelId = `ft:${this.models.root(job.model)}:${suffix}:${job.id.slice(-8)}`;
    const created = nowSeconds();
    this.models.add({ id: modelId, created, parent: job.model, job: job.id, weights: done.weights, ...(done.value ? { value: done.value } : {}) });
    this.event(job, `New fine-tuned model created: ${modelId}`);
    this.event(job, 'The job has successfully completed.');
    this.update(job, { status: 'succeeded', fine_tuned_model: modelId, trained_tokens: done.trainedTokens, finished_at: created });
    this.log(`fine-tuning ${job.id}: succeeded, model ${modelId} (final loss ${done.finalLoss.toFixed(4)})`);
  }

  private fail(job: StoredJob, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const invalidFile = err instanceof TrainingFileError || (err instanceof ApiError && err.param === 'training_file');
    const error = invalidFile
      ? { code: 'invalid_training_file', message: `The training file ${job.training_file} is invalid: ${message}`, param: 'training_file' }
      : { code: 'training_failed', message: `Training failed: ${message}`, param: null };
    this.event(job, error.message, 'error');
    this.update(job, { status: 'failed', error, finished_at: nowSeconds() });
    this.log(`fine-tuning ${job.id}: failed: ${error.message}`);
  }

  private update(job: StoredJob, patch: Partial<StoredJob>): void {
    Object.assign(job, patch);
    this.save(job);
  }

  private save(job: StoredJob): void {
    this.dir.writeJson(`jobs/${job.id}.json`, job);
  }

  private event(job: StoredJob, message: string, level: FineTuningJobEvent['level'] = 'info', type: FineTuningJobEvent['type'] = 'message', data?: unknown): void {
    const event: FineTuningJobEvent = { id: newId('ftevent'), object: 'fine_tuning.job.event', created_at: nowSeconds(), level, message, type, ...(data === undefined ? {} : { data }) };
    this.dir.appendLine(`jobs/${job.id}.events.jsonl`, JSON.stringify(event));
  }
}
