/**
 * Real services for integration tests: a fresh Postgres database per test file (DATABASE_URL's server, the local
 * one at 127.0.0.1:5432, or an embedded one when neither answers), an in-memory Temporal dev server, the embedded
 * model server over HTTP, and workers with the production activities.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { createDefaultDeps, type ActivityDeps } from '../../activities/deps.js';
import { startWorkers, type RunningWorkers } from '../../cli/worker.js';
import { installQuietRuntime } from '../../cli/runtime.js';
import { connectDatabase, type Database } from '../../db/client.js';
import { dropDatabase, ensureDatabase, startPostgres } from '../../infra/postgres.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal-server.js';
import type { BatchOptions } from '../../localmodel/batches.js';
import { startLocalModelServer } from '../../localmodel/server.js';

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `flywheel-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

let embedded: Promise<{ url: string; stop(): Promise<void> }> | null = null;

/** An admin URL of a Postgres server the tests may create databases on. */
async function adminUrl(): Promise<string> {
  const candidates = [process.env.FLYWHEEL_TEST_DATABASE_URL, process.env.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/postgres'];
  for (const url of candidates) if (url && (await answers(url))) return url;
  embedded ??= (async () => {
    const home = tempDir('pg');
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const server = await startPostgres({ dataDir: path.join(home.dir, 'pg'), log: () => {} });
      return { url: server.url, stop: async () => (await server.stop(), home.remove()) };
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  })();
  return (await embedded).url;
}

export interface TestDatabase extends Database {
  url: string;
  drop(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));

/**
 * A new, migrated database for one test file; `migratedUpTo: '0006_search-steps'` stops after that migration, as a
 * database that older code migrated and newer code now reads.
 */
export async function testDatabase(options: { migratedUpTo?: string } = {}): Promise<TestDatabase> {
  const admin = await adminUrl();
  const name = `flywheel_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const url = await ensureDatabase(admin, name);
  const database = await connectDatabase(url, { migrate: options.migratedUpTo === undefined });
  if (options.migratedUpTo !== undefined) await migrateUpTo(database, options.migratedUpTo);
  return {
    ...database,
    url,
    async drop() {
      await database.close();
      await dropDatabase(admin, name);
    },
  };
}

/** Applies the migrations through `tag` only: a copy of the folder whose journal ends there. */
async function migrateUpTo(database: Database, tag: string): Promise<void> {
  const dir = tempDir('migrations');
  try {
    cpSync(MIGRATIONS, dir.dir, { recursive: true });
    const file = path.join(dir.dir, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(file, 'utf8')) as { entries: Array<{ tag: string }> };
    const last = journal.entries.findIndex((e) => e.tag === tag);
    if (last < 0) throw new Error(`no migration ${tag} in ${MIGRATIONS}`);
    writeFileSync(file, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
    await migrate(database.db, { migrationsFolder: dir.dir, migrationsSchema: 'flywheel', migrationsTable: 'migrations' });
  } finally {
    dir.remove();
  }
}

export async function testTemporal(): Promise<TemporalDevServer> {
  return startTemporalDevServer({ uiPort: false, log: () => {} });
}

export async function testModelServer(options: { dataDir?: string; apiKey?: string; batches?: BatchOptions; log?: (line: string) => void } = {}) {
  const dir = options.dataDir ? null : tempDir('model');
  const server = await startLocalModelServer({ dataDir: options.dataDir ?? dir!.dir, port: 0, apiKey: options.apiKey, batches: options.batches, log: options.log ?? (() => {}) });
  return {
    ...server,
    async close() {
      await server.close();
      dir?.remove();
    },
  };
}

export async function testWorkers(options: {
  temporal: TemporalDevServer;
  db: Database;
  modelUrl: string;
  env?: NodeJS.ProcessEnv;
  override?: Partial<ActivityDeps>;
}): Promise<RunningWorkers> {
  installQuietRuntime('ERROR');
  const deps = { ...createDefaultDeps({ db: options.db.db, embeddedModelUrl: options.modelUrl, env: options.env ?? {} }), ...options.override };
  return startWorkers({ address: options.temporal.address, namespace: options.temporal.namespace, deps });
}
