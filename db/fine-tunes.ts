/** Trainer jobs: one row per run and round, with the external job id recorded before anything waits on it. */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { fineTunes, type FineTune } from './schema.js';

/** The two learners a round trains: the policy, and the process reward model. */
export type Learner = 'policy' | 'prm';

export async function getFineTune(db: Db, runId: string, round: number, learner: Learner = 'policy'): Promise<FineTune | null> {
  const [row] = await db
    .select()
    .from(fineTunes)
    .where(and(eq(fineTunes.runId, runId), eq(fineTunes.round, round), eq(fineTunes.learner, learner)));
  return row ?? null;
}

/** A run's trainer jobs of one learner (default the policy), one per trained round, in round order. */
export async function listFineTunes(db: Db, runId: string, learner: Learner = 'policy'): Promise<FineTune[]> {
  return db
    .select()
    .from(fineTunes)
    .where(and(eq(fineTunes.runId, runId), eq(fineTunes.learner, learner)))
    .orderBy(fineTunes.round);
}

/** Creates the round's row once (status `preparing`); returns the row as it stands. */
export async function ensureFineTune(
  db: Db,
  init: { runId: string; round: number; learner?: Learner; backend: string; baseModel: string; datasetId: number; hyperparameters: object },
): Promise<FineTune> {
  await db
    .insert(fineTunes)
    .values({ ...init, status: 'preparing' })
    .onConflictDoNothing();
  return (await getFineTune(db, init.runId, init.round, init.learner ?? 'policy'))!;
}

export async function updateFineTune(
  db: Db,
  id: number,
  set: Partial<Pick<FineTune, 'externalJobId' | 'trainingFile' | 'status' | 'resultModel' | 'error' | 'baseModel' | 'launcher' | 'progress' | 'exitCode' | 'logTail' | 'checkpointPath'>>,
): Promise<void> {
  await db
    .update(fineTunes)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(fineTunes.id, id));
}

/** Forgets a failed job so a resumed round may submit a new one; the old id stays on record. */
export async function supersedeFineTune(db: Db, row: FineTune): Promise<void> {
  await db
    .update(fineTunes)
    .set({
      supersededJobIds: sql`${fineTunes.supersededJobIds} || ${JSON.stringify([row.externalJobId])}::jsonb`,
      externalJobId: null,
      status: 'preparing',
      error: null,
      updatedAt: sql`now()`,
    })
    .where(eq(fineTunes.id, row.id));
}

/** What a submission records on the round's row. */
export interface TrainerSubmission {
  externalJobId: string;
  trainingFile: string | null;
  baseModel: string;
}

/**
 * Serialises submitting the round's trainer job on its row (SELECT ... FOR UPDATE): two attempts alive at once (a
 * slow one presumed dead and its retry) cannot both submit; the second finds the first one's job id. `submit`
 * (find, upload, submit) runs only when no job is recorded, inside the lock, and what it returns is recorded before
 * the lock is released. Returns the job id.
 *
 * @example
 * const jobId = await claimTrainerSubmission(db, row.id, (locked) => submitOnce(trainer, ...));
 */
export async function claimTrainerSubmission(
  db: Db,
  fineTuneId: number,
  submit: (locked: FineTune) => Promise<TrainerSubmission>,
): Promise<string> {
  return db.transaction(async (tx) => {
    const [locked] = await tx.select().from(fineTunes).where(eq(fineTunes.id, fineTuneId)).for('update');
    if (!locked) throw new Error(`no fine-tune row with id ${fineTuneId}`);
    if (locked.externalJobId) return locked.externalJobId;
    const submitted = await submit(locked);
    await tx
      .update(fineTunes)
      .set({ ...submitted, status: 'queued', updatedAt: sql`now()` })
      .where(eq(fineTunes.id, fineTuneId));
    return submitted.externalJobId;
  });
}
