/**
 * Command templates: `{name}` placeholders in a shell command, replaced by shell-quoted values. The same values
 * reach the command as `FLYWHEEL_*` environment variables, so a script can read either. `$VAR` and `${VAR}` are
 * left to the shell; `{{` and `}}` are literal braces.
 */

/** Every variable a trainer command (and a launcher template) may use, with its environment variable. */
export const TEMPLATE_VARIABLES = {
  dataset: 'FLYWHEEL_DATASET',
  datasetDir: 'FLYWHEEL_DATASET_DIR',
  datasetName: 'FLYWHEEL_DATASET_NAME',
  baseModel: 'FLYWHEEL_BASE_MODEL',
  fromModel: 'FLYWHEEL_FROM_MODEL',
  fromCheckpoint: 'FLYWHEEL_FROM_CHECKPOINT',
  outputDir: 'FLYWHEEL_OUTPUT_DIR',
  modelName: 'FLYWHEEL_MODEL_NAME',
  jobDir: 'FLYWHEEL_JOB_DIR',
  jobName: 'FLYWHEEL_JOB_NAME',
  progressFile: 'FLYWHEEL_PROGRESS_FILE',
  runId: 'FLYWHEEL_RUN_ID',
  round: 'FLYWHEEL_ROUND',
  seed: 'FLYWHEEL_SEED',
  epochs: 'FLYWHEEL_EPOCHS',
  learningRateMultiplier: 'FLYWHEEL_LR_MULTIPLIER',
  batchSize: 'FLYWHEEL_BATCH_SIZE',
  hyperparameters: 'FLYWHEEL_HYPERPARAMETERS',
  /** Launcher templates only: the job script flywheel wrote, and the scheduler's id of the job. */
  script: 'FLYWHEEL_SCRIPT',
  jobId: 'FLYWHEEL_SCHEDULER_JOB_ID',
  /** Deploy commands only: the checkpoint directory to serve, and the replica (base URL) to serve it on. */
  checkpoint: 'FLYWHEEL_CHECKPOINT',
  replica: 'FLYWHEEL_REPLICA',
} as const;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;
export type TemplateValues = Partial<Record<TemplateVariable, string>>;

const PLACEHOLDER = /\{\{|\}\}|(?<!\$)\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** Placeholders in `template` that are not template variables (a typo must not run as literal text). */
export function unknownPlaceholders(template: string): string[] {
  const unknown = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m[1] && !(m[1] in TEMPLATE_VARIABLES)) unknown.add(m[1]);
  }
  return [...unknown];
}

/** A value as one shell word: bare when it is plainly safe, else single-quoted. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Replaces placeholders with shell-quoted values. A placeholder without a value is an error naming it.
 *
 * @example renderTemplate('train --data {dataset} --out {outputDir}', { dataset: '/d/train.jsonl', outputDir: '/o' })
 */
export function renderTemplate(template: string, values: TemplateValues, where = 'the command template'): string {
  return template.replace(PLACEHOLDER, (match, name: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    if (!(name! in TEMPLATE_VARIABLES)) {
      throw new Error(`${where}: unknown placeholder {${name}}; known: ${Object.keys(TEMPLATE_VARIABLES).map((k) => `{${k}}`).join(', ')}`);
    }
    const value = values[name as TemplateVariable];
    if (value === undefined) throw new Error(`${where}: {${name}} has no value here`);
    return shellQuote(value);
  });
}

/** The values as `FLYWHEEL_*` environment variables. */
export function templateEnv(values: TemplateValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) env[TEMPLATE_VARIABLES[name as TemplateVariable]] = value;
  }
  return env;
}
