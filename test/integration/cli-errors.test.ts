/**
 * Errors a person can act on, tried as a new user would with real `flywheel` processes: a service that cannot be
 * reached exits 3 naming its address and what to do; bad arguments, a bad or empty task file and a missing config
 * exit 2 naming what and where. Nothing is written to the database in any of these cases.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel } from '../helpers/processes.js';
import { tempDir, testDatabase, type TestDatabase } from '../helpers/services.js';

let home: ReturnType<typeof tempDir>;
let db: TestDatabase;
let closedPort: number;

/** A port nothing listens on: bound once, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const GOOD = `
name: cli-errors
rounds: 1
task: {kind: countdown, train: 4, test: 2}
`;

function writeConfig(name: string, text: string): string {
  const file = path.join(home.dir, name);
  writeFileSync(file, text);
  return file;
}

async function runsInDatabase(): Promise<number> {
  const res = await db.db.execute(sql`SELECT count(*)::int AS n FROM flywheel.runs`);
  return Number((res.rows[0] as { n: number }).n);
}

beforeAll(async () => {
  home = tempDir('cli-errors');
  mkdirSync(path.join(home.dir, 'tasks'));
  db = await testDatabase();
  closedPort = await freePort();
});

afterAll(async () => {
  await db?.drop();
  home?.remove();
});

describe('a service that cannot be reached: exit 3, its address and what to do', () => {
  it('Temporal', async () => {
    const config = writeConfig('good.yaml', GOOD);
    const address = `127.0.0.1:${closedPort}`;
    const r = await runFlywheel(['run', config], { FLYWHEEL_HOME: home.dir, DATABASE_URL: db.url, TEMPORAL_ADDRESS: address });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`cannot reach Temporal at ${address}`);
    expect(r.stderr).toMatch(/npx flywheel dev/);
    expect(r.stderr).toMatch(/TEMPORAL_ADDRESS/);
    expect(r.stderr).not.toMatch(/tonic::transport/);
    expect(await runsInDatabase()).toBe(0);
  });

  it('Postgres, with its password kept out of the message', async () => {
    const config = writeConfig('good.yaml', GOOD);
    const url = `postgres://flywheel:hunter2-secret@127.0.0.1:${closedPort}/flywheel`;
    const r = await runFlywheel(['run', config], { FLYWHEEL_HOME: home.dir, DATABASE_URL: url, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`cannot reach Postgres at postgres://flywheel:***@127.0.0.1:${closedPort}/flywheel`);
    expect(r.stderr).toMatch(/ECONNREFUSED/);
    expect(r.stderr).toMatch(/npx flywheel dev/);
    expect(r.stderr).toMatch(/DATABASE_URL/);
    expect(r.stderr).not.toContain('hunter2-secret');
  });

  it('no services configured and no `flywheel dev` running', async () => {
    const r = await runFlywheel(['status'], { FLYWHEEL_HOME: home.dir });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no DATABASE_URL and TEMPORAL_ADDRESS/);
    expect(r.stderr).toMatch(/npx flywheel dev/);
  });
});

describe('bad input: exit 2, naming what and where, nothing written', () => {
  it('an unknown worker role', async () => {
    const r = await runFlywheel(['worker', '--queues', 'generate,gpu'], { FLYWHEEL_HOME: home.dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--queues: unknown role gpu; choose from control, generate, verify, train/);
  });

  it('a task set with an empty split', async () => {
    writeFileSync(path.join(home.dir, 'tasks/train.jsonl'), '{"id": 1, "prompt": "1+1?", "answer": "2"}\n');
    writeFileSync(path.join(home.dir, 'tasks/test.jsonl'), '\n');
    const config = writeConfig('empty-split.yaml', 'task: {kind: jsonl, name: sums, train: tasks/train.jsonl, test: tasks/test.jsonl}\nverifier: {name: numeric}\n');
    const r = await runFlywheel(['run', config], { FLYWHEEL_HOME: home.dir, DATABASE_URL: db.url, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(path.join(home.dir, 'tasks/test.jsonl'));
    expect(r.stderr).toMatch(/the file has no problems/);
    expect(await runsInDatabase()).toBe(0);
  });

  it('a bad line in a task file, by file and line', async () => {
    writeFileSync(path.join(home.dir, 'tasks/bad.jsonl'), '{"id": 1, "prompt": "1+1?", "answer": "2"}\n{"id": 2, "answer": "3"}\n');
    const config = writeConfig('bad-task.yaml', 'task: {kind: jsonl, name: sums, train: tasks/bad.jsonl, test: tasks/train.jsonl}\nverifier: {name: numeric}\n');
    const r = await runFlywheel(['run', config], { FLYWHEEL_HOME: home.dir, DATABASE_URL: db.url, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${path.join(home.dir, 'tasks/bad.jsonl')}:2: "prompt" must be a non-empty string`);
  });

  it('a config file that does not exist', async () => {
    const missing = path.join(home.dir, 'nope.yaml');
    const r = await runFlywheel(['run', missing], { FLYWHEEL_HOME: home.dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`no such file: ${missing}`);
    expect(r.stderr).not.toMatch(/ENOENT/);
  });

  it('a bad argument', async () => {
    const r = await runFlywheel(['demo', '--rounds', 'two'], { FLYWHEEL_HOME: home.dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--rounds must be a whole number/);
  });
});
