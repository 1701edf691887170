/** `flywheel export --format prm | prm-parquet`: the PRM datasets in TRL's stepwise layout, read back. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCommand } from '../../../cli/export.js';
import { problemIds } from '../../../db/problems.js';
import { buildPrmDataset, streamPrmExamples, type PrmExample } from '../../../db/prm-dataset.js';
import { insertSearchSteps } from '../../../db/search-steps.js';
import type { StepStat } from '../../../lib/search/step-stats.js';
import { tempDir, testDatabase, type TestDatabase } from '../../helpers/services.js';
import { storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let runId: string;
let examples: PrmExample[];
const dir = tempDir('prm-export');
// exportCommand resolves both services as the CLI does; it connects only to Postgres.
const saved = { DATABASE_URL: process.env.DATABASE_URL, TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS };

const step = (prefix: string, line: string, rollouts: number, verified: number, verdict: boolean | null = null): StepStat => ({
  prefix,
  step: line,
  depth: prefix === '' ? 1 : prefix.split('\n').length,
  visits: rollouts,
  rollouts,
  verifiedRollouts: verified,
  value: rollouts ? verified / rollouts : null,
  verdict,
});

beforeAll(async () => {
  db = await testDatabase();
  process.env.DATABASE_URL = db.url;
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:9';
  const run = await storeRun(db.db);
  runId = run.runId;
  const round1 = await storeRounds(db.db, runId, 1);
  const round0 = (await db.db.execute(sql`SELECT id FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0`)).rows[0] as { id: string };
  const [p1, p2] = await problemIds(db.db, run.taskSet, 'train');
  const at = (problemId: number) => ({ roundId: Number(round0.id), problemId, purpose: 'train', strategy: 'mcts', source: 'mcts' });
  await insertSearchSteps(db.db, at(p1!), [step('', 'a', 4, 0), step('a\n', 'a1', 2, 2), step('a\na1\n', 'Answer: 1', 1, 1, true)]);
  await insertSearchSteps(db.db, at(p2!), [step('', 'b', 4, 3), step('b\n', 'b1', 2, 0), step('b\n', 'b2', 2, 0)]);
  const built = await buildPrmDataset(db.db, round1.id);
  expect(built).toMatchObject({ examples: 6, positives: 3, negatives: 3 });
  examples = [];
  for await (const x of streamPrmExamples(db.db, built.datasetId)) examples.push(x);
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await db?.drop();
  dir.remove();
});

describe('export of PRM datasets', () => {
  it('prm: JSON lines of {prompt, completions, labels}, example for example what Postgres holds', async () => {
    const file = path.join(dir.dir, 'prm.jsonl');
    await exportCommand(runId, { format: 'prm', out: file });
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual(examples.map((x) => ({ prompt: x.prompt, completions: x.completions, labels: x.labels })));
    expect(lines.map((l) => l.completions)).toContainEqual(['a', 'a1', 'Answer: 1']);
    expect(lines.find((l) => JSON.stringify(l.completions) === JSON.stringify(['b', 'b2']))).toMatchObject({ labels: [true, false] });
  });

  it('prm-parquet: list columns read back by hyparquet, with a dataset card', async () => {
    const out = path.join(dir.dir, 'parquet');
    await exportCommand(runId, { format: 'prm-parquet', out, round: '1', shardRows: '4' });
    const files = readdirSync(path.join(out, 'data')).sort();
    expect(files).toEqual(['train-00000-of-00002.parquet', 'train-00001-of-00002.parquet']);
    const rows: Array<Record<string, unknown>> = [];
    for (const f of files) {
      const buffer = await asyncBufferFromFile(path.join(out, 'data', f));
      const metadata = await parquetMetadataAsync(buffer);
      expect(parquetSchema(metadata).children.map((c) => c.element.name)).toEqual(['prompt', 'completions', 'labels', 'soft_labels', 'problem_id', 'searched_in_round', 'trained_in_round']);
      rows.push(...((await parquetReadObjects({ file: buffer })) as Array<Record<string, unknown>>));
    }
    expect(rows).toEqual(
      examples.map((x) => ({
        prompt: x.prompt,
        completions: x.completions,
        labels: x.labels,
        soft_labels: x.softLabels,
        problem_id: BigInt(x.problemId),
        searched_in_round: 0,
        trained_in_round: 1,
      })),
    );
    const card = readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('PRM step labels');
    expect(card).toContain('| `completions` | LIST<STRING> |');
    expect(card).toMatch(/\| 1 \| 6 \| 2 \|/);
  });

  it('says what to do with bad arguments', async () => {
    await expect(exportCommand(runId, { format: 'prm-parquet' })).rejects.toThrow(/--format prm-parquet writes a folder/);
    await expect(exportCommand(runId, { format: 'prm', traces: true })).rejects.toThrow(/--traces exports raw traces; --format prm/);
    await expect(exportCommand(runId, { format: 'prm', round: '0' })).rejects.toThrow(/no PRM dataset in round 0/);
  });
});
