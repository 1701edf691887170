/**
 * A round's provider batches (`generate.mode: batch`). A batch is recorded as soon as the provider has created it,
 * before anything waits on it; a retried activity reads what is recorded and creates only what is not, so a batch
 * is never created twice for the same (round, purpose, attempt, file index).
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { batches } from './schema.js';

export type BatchRow = typeof batches.$inferSelect;
export type NewBatch = Pick<typeof batches.$inferInsert, 'roundId' | 'purpose' | 'attempt' | 'fileIndex' | 'inputFileId' | 'batchId' | 'requests'> & {
  status?: string;
};

/** Records a created batch; when that slot is recorded already, keeps the first one and returns it. */
export async function recordBatch(db: Db, batch: NewBatch): Promise<BatchRow> {
  const [inserted] = await db.insert(batches).values(batch).onConflictDoNothing({ target: [batches.roundId, batches.purpose, batches.attempt, batches.fileIndex] }).returning();
  if (inserted) return inserted;
  const [existing] = await db
    .select()
    .from(batches)
    .where(and(eq(batches.roundId, batch.roundId), eq(batches.purpose, batch.purpose), eq(batches.attempt, batch.attempt), eq(batches.fileIndex, batch.fileIndex)));
  if (!existing) throw new Error(`batch ${batch.batchId} of round ${batch.roundId} (${batch.purpose}, attempt ${batch.attempt}, file ${batch.fileIndex}) was neither inserted nor found`);
  return existing;
}

/** The round's batches of one purpose, by attempt and file index. */
export async function roundBatches(db: Db, roundId: number, purpose: string): Promise<BatchRow[]> {
  return db
    .select()
    .from(batches)
    .where(and(eq(batches.roundId, roundId), eq(batches.purpose, purpose)))
    .orderBy(asc(batches.attempt), asc(batches.fileIndex));
}

export interface BatchProgress {
  status: string;
  completed: number;
  failed: number;
  outputFileId: string | null;
  errorFileId: string | null;
}

/** What the provider last said of a batch. */
export async function updateBatch(db: Db, batchId: string, progress: BatchProgress): Promise<void> {
  await db
    .update(batches)
    .set({ ...progress, updatedAt: sql`now()` })
    .where(eq(batches.batchId, batchId));
}

/** The batch's lines are stored as traces (ingesting again would change nothing, but need not happen). */
export async function markIngested(db: Db, batchId: string): Promise<void> {
  await db
    .update(batches)
    .set({ ingestedAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(batches.batchId, batchId));
}
