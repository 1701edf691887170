/** Trainer jobs: one row per run and round, with the external job id recorded before anything waits on it. */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { fineTunes, type FineTune } from './schema.js';

export async function getFineTune(db: Db, runId: string, round: number): Promise<FineTune | null> {
  const [row] = await db
    .select()
    .from(fineTunes)
    .where(and(eq(fineTunes.runId, runId), eq(fineTunes.round, round)));
  return row ?? null;
}

/** Creates the round's row once (status `preparing`); returns the row as it stands. */
export async function ensureFineTune(
  db: Db,
  init: { runId: string; round: number; backend: string; baseModel: string; datasetId: number; hyperparameters: object },
): Promise<FineTune> {
  await db
    .insert(fineTunes)
    .values({ ...init, status: 'preparing' })
    .onConflictDoNothing();
  return (await getFineTune(db, init.runId, init.round))!;
}

export async function updateFineTune(
  db: Db,
  id: number,
  set: Partial<Pick<FineTune, 'externalJobId' | 'trainingFile' | 'status' | 'resultModel' | 'error' | 'baseModel'>>,
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
