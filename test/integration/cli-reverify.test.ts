/** `flywheel reverify`: verdicts of the current verifier version for a round's traces, on a real Postgres, no Temporal. */
import { readFileSync } from 'node:fs';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../config/load.js';
import { problemIds, upsertProblems } from '../../db/problems.js';
import { ensureRound } from '../../db/rounds.js';
import { insertRun } from '../../db/runs.js';
import { traces, verdicts } from '../../db/schema.js';
import { insertTraces, insertVerdicts } from '../../db/traces.js';
import { mathVerifier } from '../../lib/verify/index.js';
import { runFlywheel } from '../helpers/processes.js';
import { tempDir, testDatabase, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
const home = tempDir('reverify');
const runId = 'reverify-test-run';

beforeAll(async () => {
  database = await testDatabase();
  const yaml = readFileSync('config/examples/countdown.yaml', 'utf8').replace(/^  name: countdown .*$/m, '  name: math');
  const config = parseRunConfig(yaml, 'countdown.yaml', { FLYWHEEL_MODEL_URL: 'http://127.0.0.1:9/v1' });
  expect(config.verifier).toEqual({ name: 'math' });
  await insertRun(database.db, { id: runId, config, taskSet: 'reverify-math', baseUrl: 'http://127.0.0.1:9/v1' });
  await upsertProblems(database.db, 'reverify-math', [
    { externalId: 'p1', split: 'train', prompt: 'Half?', reference: { answer: '\\frac12' } },
    { externalId: 'p2', split: 'train', prompt: 'Solve x+1=4', reference: { answer: '3' } },
  ]);
  const [p1, p2] = await problemIds(database.db, 'reverify-math', 'train');
  const round = await ensureRound(database.db, runId, 0, { planned: 4, sampler: null, model: 'm' });
  const trace = (problemId: number, sampleIndex: number, text: string, error: string | null = null) => ({
    roundId: round.id, problemId, purpose: 'train', strategy: 'sample', sampleIndex, model: 'm', text, error,
  });
  const ids = await insertTracesReturningIds([
    trace(p1!, 0, 'so \\boxed{0.5}'),
    trace(p2!, 0, 'so $x = 3$.'), // version 1 found no answer here: no \boxed{}, no "answer is"
    trace(p2!, 1, 'I think 4'),
    trace(p2!, 2, '', 'model server timed out'),
  ]);
  await insertVerdicts(database.db, [
    { traceId: ids[1]!, verifier: 'math', verifierVersion: '1', score: 0, correct: false, answer: null, detail: 'no final answer' },
  ]);
}, 120_000);

async function insertTracesReturningIds(rows: Parameters<typeof insertTraces>[1]): Promise<number[]> {
  await insertTraces(database.db, rows);
  const stored = await database.db.select({ id: traces.id }).from(traces).orderBy(asc(traces.id));
  return stored.map((r) => Number(r.id));
}

afterAll(async () => {
  await database?.drop();
  home.remove();
});

describe('flywheel reverify', () => {
  it('writes verdicts of the current version for traces that lack one, keeps old ones, and is idempotent', async () => {
    const env = { DATABASE_URL: database.url, FLYWHEEL_HOME: home.dir };
    const first = await runFlywheel(['reverify', runId, '--round', '0', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ runId, verifier: 'math', version: mathVerifier.version, rounds: [{ round: 0, written: 4 }] });

    const current = await database.db.select().from(verdicts).where(and(eq(verdicts.verifier, 'math'), eq(verdicts.verifierVersion, mathVerifier.version)));
    expect(current.map((v) => v.correct).sort()).toEqual([false, false, true, true]);
    expect(current.find((v) => v.answer === '3')?.correct).toBe(true);
    expect(current.some((v) => v.detail.startsWith('no answer: model server timed out'))).toBe(true);
    const old = await database.db.select().from(verdicts).where(eq(verdicts.verifierVersion, '1'));
    expect(old).toHaveLength(1);
    expect(old[0]!.correct).toBe(false);

    const again = await runFlywheel(['reverify', runId, '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).rounds).toEqual([{ round: 0, written: 0 }]);
  }, 120_000);

  it('names a missing run or round with exit 2, a missing database with exit 3', async () => {
    const env = { DATABASE_URL: database.url, FLYWHEEL_HOME: home.dir };
    const run = await runFlywheel(['reverify', 'no-such-run'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no run "no-such-run"/);
    const round = await runFlywheel(['reverify', runId, '--round', '7'], env);
    expect(round.code).toBe(2);
    expect(round.stderr).toMatch(/has no round 7/);
    const missing = await runFlywheel(['reverify', runId], { DATABASE_URL: '', FLYWHEEL_HOME: home.dir });
    expect(missing.code).toBe(3);
  }, 120_000);
});
