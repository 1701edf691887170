/** Runs and the models they produce. */
import { and, eq, sql } from 'drizzle-orm';
import { runConfigSchema, type RunConfig } from '../config/schema.js';
import type { Db } from './client.js';
import { models, runs, type Run } from './schema.js';

export interface NewRun {
  id: string;
  config: RunConfig;
  taskSet: string;
  baseUrl: string;
}

/** Inserts a run and registers its base model (round 0), in the caller's transaction. */
export async function insertRun(db: Db, run: NewRun): Promise<void> {
  await db.insert(runs).values({
    id: run.id,
    name: run.config.name,
    config: run.config,
    taskSet: run.taskSet,
    status: 'created',
    baseModel: run.config.model.name,
    currentModel: run.config.model.name,
    rounds: run.config.rounds,
  });
  await db.insert(models).values({
    runId: run.id,
    round: 0,
    name: run.config.model.name,
    provider: 'openai',
    baseUrl: run.baseUrl,
    promoted: true,
  });
}

export async function getRun(db: Db, runId: string): Promise<Run> {
  const [row] = await db.select().from(runs).where(eq(runs.id, runId));
  if (!row) throw new Error(`no run "${runId}" in the database (list runs with: flywheel status)`);
  return row;
}

/**
 * The run's config, parsed again with the schema: a default added since the run was stored applies to it too. A
 * stored config that no longer validates names the run and the fields.
 */
export function runConfig(run: Pick<Run, 'id' | 'config'>): RunConfig {
  const parsed = runConfigSchema.safeParse(run.config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`run ${run.id}: its stored config is not valid under this version of flywheel (${issues})`);
  }
  return parsed.data;
}

export async function setRunStatus(db: Db, runId: string, status: string, error: string | null = null): Promise<void> {
  await db.update(runs).set({ status, error, updatedAt: sql`now()` }).where(eq(runs.id, runId));
}

export async function promoteModel(db: Db, runId: string, name: string): Promise<void> {
  await db.update(runs).set({ currentModel: name, updatedAt: sql`now()` }).where(eq(runs.id, runId));
  await db.update(models).set({ promoted: true }).where(and(eq(models.runId, runId), eq(models.name, name)));
}

export interface NewModel {
  runId: string;
  round: number;
  name: string;
  baseUrl: string;
  parentName: string;
  datasetId: number;
  fineTuneId: number;
  /** `api` (served by the trainer's API) or the checkpoint's kind (`adapter`, `full`) of a command trainer. */
  kind?: string | null;
  checkpointPath?: string | null;
}

/** The checkpoint directory a run's model was trained into (null for an API model or one not recorded). */
export async function modelCheckpointPath(db: Db, runId: string, name: string): Promise<string | null> {
  const [row] = await db
    .select({ checkpointPath: models.checkpointPath })
    .from(models)
    .where(and(eq(models.runId, runId), eq(models.name, name)));
  return row?.checkpointPath ?? null;
}

/** Registers a fine-tuned model (idempotent on run + name). */
export async function upsertModel(db: Db, model: NewModel): Promise<void> {
  await db
    .insert(models)
    .values({ ...model, provider: 'openai' })
    .onConflictDoUpdate({
      target: [models.runId, models.name],
      set: {
        round: model.round,
        parentName: model.parentName,
        datasetId: model.datasetId,
        fineTuneId: model.fineTuneId,
        kind: model.kind ?? null,
        checkpointPath: model.checkpointPath ?? null,
      },
    });
}

export async function listRuns(db: Db, limit = 20): Promise<Run[]> {
  return db.select().from(runs).orderBy(sql`${runs.createdAt} desc`).limit(limit);
}

/**
 * Raises (or sets) a run's budget: the stored config's `budget` is merged with the new limits, so every later
 * check (this round's and later rounds') reads them. Returns the budget now in force.
 */
export async function raiseRunBudget(db: Db, runId: string, limits: { maxCost?: number; maxTokens?: number }): Promise<RunConfig['budget']> {
  const config = runConfig(await getRun(db, runId));
  const budget = { ...config.budget, ...limits };
  const next = runConfigSchema.parse({ ...config, budget });
  await db.update(runs).set({ config: next }).where(eq(runs.id, runId));
  return next.budget;
}

/** One of a run's models, by name (null when the run has none by that name: the base model). */
export async function getModel(db: Db, runId: string, name: string): Promise<typeof models.$inferSelect | null> {
  const [row] = await db.select().from(models).where(and(eq(models.runId, runId), eq(models.name, name)));
  return row ?? null;
}

/** The run's models trained before round `round` from a checkpoint, newest first (what a deploy may keep loaded). */
export async function earlierCheckpointModels(db: Db, runId: string, round: number, limit: number): Promise<string[]> {
  if (limit <= 0) return [];
  const rows = await db
    .select({ name: models.name })
    .from(models)
    .where(and(eq(models.runId, runId), sql`${models.round} < ${round}`, sql`${models.checkpointPath} is not null`))
    .orderBy(sql`${models.round} desc`, sql`${models.id} desc`)
    .limit(limit);
  return rows.map((r) => r.name);
}

/**
 * After a deploy: `name` is served at `replicas` (added to its `served_at`), and the adapters the deploy unloaded
 * are no longer served where they were unloaded.
 */
export async function recordDeploy(db: Db, runId: string, name: string, replicas: string[], unloaded: Array<{ name: string; replica: string }>): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx.select({ servedAt: models.servedAt }).from(models).where(and(eq(models.runId, runId), eq(models.name, name))).for('update');
    if (!row) throw new Error(`run ${runId} has no model ${name} to record a deploy of`);
    const served = new Set([...((row.servedAt as string[] | null) ?? []), ...replicas]);
    await tx.update(models).set({ servedAt: [...served] }).where(and(eq(models.runId, runId), eq(models.name, name)));
    for (const u of unloaded) {
      await tx
        .update(models)
        .set({ servedAt: sql`coalesce((select jsonb_agg(e) from jsonb_array_elements(${models.servedAt}) e where e <> to_jsonb(${u.replica}::text)), '[]'::jsonb)` })
        .where(and(eq(models.runId, runId), eq(models.name, u.name)));
    }
  });
}
