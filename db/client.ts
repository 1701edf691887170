/**
 * The Postgres connection: a pg pool wrapped by drizzle, and migrations applied on start under an advisory lock
 * (a worker and a CLI starting together must not both migrate).
 */
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { redactUrl } from '../infra/databases.js';
import * as schema from './schema.js';

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const MIGRATION_LOCK = 0x666c7977; // "flyw"

/** Connects to `url`; with `migrate: true` (the default) brings the schema up to date first. */
export async function connectDatabase(url: string, options: { migrate?: boolean; max?: number } = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 8 });
  // An idle client losing its server (a Postgres restart) must not crash the process: the pool drops it.
  pool.on('error', () => {});
  const db = drizzle(pool, { schema });
  if (options.migrate ?? true) {
    try {
      await applyMigrations(pool, db);
    } catch (err) {
      await pool.end();
      throw new Error(`could not prepare the database at ${redactUrl(url)}: ${(err as Error).message}`);
    }
  }
  return { db, pool, close: () => pool.end() };
}

async function applyMigrations(pool: pg.Pool, db: Db): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(db, { migrationsFolder: MIGRATIONS, migrationsSchema: 'flywheel', migrationsTable: 'migrations' });
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
