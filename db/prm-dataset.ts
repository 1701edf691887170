/**
 * The process reward model's dataset of a round, built in SQL from the step labels of `search_steps` (beside the
 * policy's, by the filter stage), and read back as examples in TRL's stepwise format: one example per labelled
 * step, its prompt, the steps of its path as `completions` and a label per step.
 */
import { sql, type SQL } from 'drizzle-orm';
import { balanceCaps, PRM_LABEL_THRESHOLD, PRM_MAX_CLASS_RATIO } from '../lib/round/prm-dataset.js';
import type { Db } from './client.js';
import { getRoundContext } from './rounds.js';
import { datasets } from './schema.js';

/** One example: a trace prefix path and a label per step (TRL's `prompt`, `completions`, `labels`). */
export interface PrmExample {
  prompt: string;
  completions: string[];
  labels: boolean[];
  /** Verified rollouts / rollouts per step (1 or 0 for a step that ended a trace and was never rolled through). */
  softLabels: number[];
  problemId: number;
  /** The round whose search produced the example's last step. */
  round: number;
}

export interface PrmFilter {
  fromRound: number;
  toRound: number;
  threshold: number;
  maxClassRatio: number;
}

/**
 * Step labels of a run merged per (problem, prefix, step): rollouts and verified rollouts summed over the searches
 * that saw the step, the verdict of a final step, the first row's id. `where` selects the `search_steps` rows (s),
 * their round (r) and problem (p).
 */
function mergedSteps(where: SQL, threshold: number): SQL {
  return sql`
    merged AS (
      SELECT min(s.id) AS step_id, s.problem_id, min(s.depth) AS depth,
             coalesce(sum(s.rollouts) FILTER (WHERE s.verified_rollouts IS NOT NULL), 0)::int AS rollouts,
             coalesce(sum(s.verified_rollouts), 0)::int AS verified,
             bool_or(s.final_verdict) AS verdict
      FROM flywheel.search_steps s
      JOIN flywheel.rounds r ON r.id = s.round_id
      JOIN flywheel.problems p ON p.id = s.problem_id
      WHERE ${where}
      GROUP BY s.problem_id, s.prefix_hash, s.step_hash
    ),
    labelled AS (
      SELECT step_id, problem_id, depth, rollouts, verified,
             CASE WHEN rollouts > 0 THEN verified::float8 / rollouts WHEN verdict THEN 1 ELSE 0 END AS soft_label,
             CASE WHEN verdict IS NOT NULL THEN verdict ELSE verified::float8 / rollouts >= ${threshold} END AS label
      FROM merged WHERE rollouts > 0 OR verdict IS NOT NULL
    )`;
}

/** Never a problem of a held-out split, nor a train problem whose prompt also appears in one. */
const TRAIN_ONLY = sql`s.purpose = 'train' AND p.split = 'train' AND NOT EXISTS (
  SELECT 1 FROM flywheel.problems q WHERE q.task_set = p.task_set AND q.split <> 'train' AND q.prompt = p.prompt)`;

/** The first round whose step labels a round's PRM dataset pools (a run stored before `window` existed: the filter's). */
export function prmWindowStart(roundIndex: number, window: number | 'all'): number {
  return window === 'all' ? 0 : Math.max(0, roundIndex - window);
}

/**
 * Builds (or rebuilds, identically) the PRM dataset of a round from the step labels of `finetune.prm.window`
 * earlier rounds (all of them by default): train problems only, each (problem, prefix, step) once, a step kept only when every earlier step
 * of its path is labelled too, and the majority class capped (balanceCaps), chosen by a hash of the step so the
 * choice is stable. Recorded as the round's `datasets` row of kind 'prm' with its items in `prm_dataset_items`.
 */
export async function buildPrmDataset(db: Db, roundId: number): Promise<{ datasetId: number; examples: number; positives: number; negatives: number }> {
  const { run, round, config } = await getRoundContext(db, roundId);
  const filter: PrmFilter = {
    fromRound: prmWindowStart(round.index, config.finetune.prm.window ?? config.filter.window),
    toRound: round.index - 1,
    threshold: PRM_LABEL_THRESHOLD,
    maxClassRatio: PRM_MAX_CLASS_RATIO,
  };
  return db.transaction(async (tx) => {
    const [ds] = await tx
      .insert(datasets)
      .values({ runId: run.id, round: round.index, kind: 'prm', filter })
      .onConflictDoUpdate({ target: [datasets.runId, datasets.round, datasets.kind], set: { filter } })
      .returning({ id: datasets.id });
    if (!ds) throw new Error(`PRM dataset of run ${run.id} round ${round.index} was not written (upsert returned no row)`);
    await tx.execute(sql`DELETE FROM flywheel.prm_dataset_items WHERE dataset_id = ${ds.id}`);
    await tx.execute(sql`
      WITH ${mergedSteps(sql`r.run_id = ${run.id} AND r.index BETWEEN ${filter.fromRound} AND ${filter.toRound} AND ${TRAIN_ONLY}`, filter.threshold)}
      INSERT INTO flywheel.prm_dataset_items (dataset_id, step_id, problem_id, depth, rollouts, verified_rollouts, soft_label, label)
      SELECT ${ds.id}, step_id, problem_id, depth, rollouts, verified, soft_label, label FROM labelled`);
    // The statements below join the items just written to each other. Without statistics that count them (this
    // transaction's rows; autovacuum has not seen them), the planner takes a new dataset for a handful of rows and
    // nests loops over it: 25k items took 5 minutes instead of a second. ANALYZE counts this transaction's own rows.
    await tx.execute(sql`ANALYZE flywheel.prm_dataset_items`);
    // A step can end an example when each of the depth − 1 steps before it is an item (its prefix's lines).
    // The earlier steps of an item's path are the items whose prefix + step + newline is its prefix cut after one of
    // its newlines: each item's cut points joined to the items by equality (a hash join, linear in the labels; a
    // starts_with join of each problem's items to each other grew with their square).
    await tx.execute(sql`
      UPDATE flywheel.prm_dataset_items e SET complete = true
      FROM (
        SELECT x.step_id
        FROM flywheel.prm_dataset_items x JOIN flywheel.search_steps sx ON sx.id = x.step_id
        LEFT JOIN LATERAL (
          SELECT array_to_string(lines[1:i], E'\n') || E'\n' AS cut
          FROM (SELECT string_to_array(sx.prefix, E'\n') AS lines) l, generate_series(1, cardinality(lines) - 1) AS i
        ) cuts ON true
        LEFT JOIN (
          SELECT a.problem_id, a.depth, sa.prefix || sa.step || E'\n' AS path
          FROM flywheel.prm_dataset_items a JOIN flywheel.search_steps sa ON sa.id = a.step_id
          WHERE a.dataset_id = ${ds.id}
        ) a ON a.problem_id = x.problem_id AND a.path = cuts.cut AND a.depth < x.depth
        WHERE x.dataset_id = ${ds.id}
        GROUP BY x.step_id, x.depth
        HAVING count(a.path) = x.depth - 1
      ) c
      WHERE e.dataset_id = ${ds.id} AND e.step_id = c.step_id`);
    const [classes] = (
      await tx.execute(sql`
        SELECT count(*) FILTER (WHERE label)::int AS positives, count(*) FILTER (WHERE NOT label)::int AS negatives
        FROM flywheel.prm_dataset_items WHERE dataset_id = ${ds.id} AND complete`)
    ).rows as Array<{ positives: number; negatives: number }>;
    const caps = balanceCaps(Number(classes?.positives ?? 0), Number(classes?.negatives ?? 0), filter.maxClassRatio);
    await tx.execute(sql`
      WITH ranked AS (
        SELECT e.step_id, e.label,
               row_number() OVER (PARTITION BY e.label ORDER BY md5(se.prefix_hash || se.step_hash || e.problem_id::text), e.step_id) AS rank
        FROM flywheel.prm_dataset_items e JOIN flywheel.search_steps se ON se.id = e.step_id
        WHERE e.dataset_id = ${ds.id} AND e.complete
      )
      UPDATE flywheel.prm_dataset_items e SET example = true
      FROM ranked k
      WHERE e.dataset_id = ${ds.id} AND e.step_id = k.step_id
        AND k.rank <= CASE WHEN k.label THEN ${caps.positives}::int ELSE ${caps.negatives}::int END`);
    const [counts] = (
      await tx.execute(sql`
        SELECT count(*)::int AS examples, count(DISTINCT problem_id)::int AS problems,
               count(*) FILTER (WHERE label)::int AS positives, count(*) FILTER (WHERE NOT label)::int AS negatives
        FROM flywheel.prm_dataset_items WHERE dataset_id = ${ds.id} AND example`)
    ).rows as Array<{ examples: number; problems: number; positives: number; negatives: number }>;
    const examples = Number(counts?.examples ?? 0);
    await tx.execute(sql`UPDATE flywheel.datasets SET items = ${examples}, problems = ${Number(counts?.problems ?? 0)} WHERE id = ${ds.id}`);
    return { datasetId: ds.id, examples, positives: Number(counts?.positives ?? 0), negatives: Number(counts?.negatives ?? 0) };
  });
}

interface PathRow {
  step_id: string | number;
  problem_id: string | number;
  prompt: string;
  round: number;
  completions: string[];
  labels: boolean[];
  soft_labels: number[];
}

function toExample(row: PathRow): PrmExample {
  return {
    prompt: row.prompt,
    completions: row.completions,
    labels: row.labels,
    softLabels: row.soft_labels.map(Number),
    problemId: Number(row.problem_id),
    round: Number(row.round),
  };
}

/**
 * The paths of `ends` (a CTE of step_id, problem_id rows) through `items` (a CTE of step_id, problem_id, depth,
 * label, soft_label): each end's earlier steps are the items whose step text closes a prefix of its own.
 */
const PATHS = sql`
  SELECT e.step_id, e.problem_id, p.prompt, r.index AS round,
         array_agg(sa.step ORDER BY a.depth) AS completions,
         array_agg(a.label ORDER BY a.depth) AS labels,
         array_agg(a.soft_label ORDER BY a.depth) AS soft_labels
  FROM ends e
  JOIN flywheel.search_steps se ON se.id = e.step_id
  JOIN flywheel.rounds r ON r.id = se.round_id
  JOIN flywheel.problems p ON p.id = e.problem_id
  JOIN items a ON a.problem_id = e.problem_id
  JOIN flywheel.search_steps sa ON sa.id = a.step_id
  WHERE a.step_id = e.step_id OR (a.depth < se.depth AND starts_with(se.prefix, sa.prefix || sa.step || E'\n'))
  GROUP BY e.step_id, e.problem_id, p.prompt, r.index`;

/**
 * The dataset's examples in a stable order (by step id), read a page at a time (keyset pagination on the drizzle
 * handle every activity has), so a large set is never held whole.
 *
 * @example for await (const ex of streamPrmExamples(db, datasetId)) out.write(JSON.stringify(ex) + '\n');
 */
export async function* streamPrmExamples(db: Db, datasetId: number, pageSize = 500): AsyncGenerator<PrmExample> {
  let after = 0;
  for (;;) {
    const rows = (
      await db.execute(sql`
        WITH items AS (SELECT step_id, problem_id, depth, label, soft_label FROM flywheel.prm_dataset_items WHERE dataset_id = ${datasetId}),
        ends AS (
          SELECT step_id, problem_id FROM flywheel.prm_dataset_items
          WHERE dataset_id = ${datasetId} AND example AND step_id > ${after}
          ORDER BY step_id LIMIT ${pageSize})
        ${PATHS}
        ORDER BY e.step_id`)
    ).rows as unknown as PathRow[];
    for (const row of rows) yield toExample(row);
    const last = rows.at(-1);
    if (!last || rows.length < pageSize) return;
    after = Number(last.step_id);
  }
}

/**
 * Step labels of a run's held-out problems (the eval searches of every round; never in a PRM dataset), one example
 * per labelled step whose path is labelled throughout, unbalanced, for the PRM's accuracy and AUC. `limit` keeps a
 * stable sample (by a hash of the step); `round` keeps one round's eval searches (a PRM's accuracy per round).
 * Held-out labels exist where eval search verifies (`verifyAtEval`).
 */
export async function heldOutStepLabels(db: Db, runId: string, limit = 10_000, round?: number): Promise<PrmExample[]> {
  const where = sql`r.run_id = ${runId} AND s.purpose = 'eval' AND p.split <> 'train' AND (${round ?? null}::int IS NULL OR r.index = ${round ?? null}::int)`;
  const rows = (
    await db.execute(sql`
      WITH ${mergedSteps(where, PRM_LABEL_THRESHOLD)},
      items AS (SELECT step_id, problem_id, depth, label, soft_label FROM labelled),
      ends AS (SELECT step_id, problem_id FROM labelled),
      paths AS (${PATHS})
      SELECT x.* FROM paths x JOIN flywheel.search_steps s ON s.id = x.step_id
      WHERE cardinality(x.labels) = s.depth
      ORDER BY md5(s.prefix_hash || s.step_hash || x.problem_id::text), x.step_id
      LIMIT ${limit}`)
  ).rows as unknown as PathRow[];
  return rows.map(toExample);
}
