/** Problems of task sets, and the shards that stages process. */
import { and, asc, count, eq, gte, lt } from 'drizzle-orm';
import type { Db } from './client.js';
import { problems, type Problem } from './schema.js';

export interface NewProblem {
  externalId: string;
  split: 'train' | 'test';
  prompt: string;
  reference: unknown;
  metadata?: Record<string, unknown>;
}

/**
 * Stores a task set's problems (idempotent: a task set is written once and shared by every run that names it).
 * Positions number the problems of each split from 0 in the given order.
 */
export async function upsertProblems(db: Db, taskSet: string, list: NewProblem[]): Promise<number> {
  const position = { train: 0, test: 0 };
  const rows = list.map((p) => ({
    taskSet,
    externalId: p.externalId,
    split: p.split,
    position: position[p.split]++,
    prompt: p.prompt,
    reference: p.reference,
    metadata: p.metadata ?? {},
  }));
  let written = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    const res = await db
      .insert(problems)
      .values(rows.slice(i, i + 1000))
      .onConflictDoNothing()
      .returning({ id: problems.id });
    written += res.length;
  }
  return written;
}

export async function countProblems(db: Db, taskSet: string, split: 'train' | 'test'): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(problems)
    .where(and(eq(problems.taskSet, taskSet), eq(problems.split, split)));
  return Number(row?.n ?? 0);
}

/** The half-open range of positions that shard `shard` of `shards` covers, over `total` problems. */
export function shardRange(total: number, shard: number, shards: number): [number, number] {
  return [Math.floor((shard * total) / shards), Math.floor(((shard + 1) * total) / shards)];
}

export async function problemsInShard(
  db: Db,
  taskSet: string,
  split: 'train' | 'test',
  shard: number,
  shards: number,
): Promise<Problem[]> {
  const total = await countProblems(db, taskSet, split);
  const [lo, hi] = shardRange(total, shard, shards);
  return db
    .select()
    .from(problems)
    .where(
      and(eq(problems.taskSet, taskSet), eq(problems.split, split), gte(problems.position, lo), lt(problems.position, hi)),
    )
    .orderBy(asc(problems.position));
}

/** Ids of a split's problems in position order. */
export async function problemIds(db: Db, taskSet: string, split: 'train' | 'test'): Promise<number[]> {
  const rows = await db
    .select({ id: problems.id })
    .from(problems)
    .where(and(eq(problems.taskSet, taskSet), eq(problems.split, split)))
    .orderBy(asc(problems.position));
  return rows.map((r) => r.id);
}
