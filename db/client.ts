/**
 * The Postgres connection: a pg pool wrapped by drizzle, and migrations applied on start under an advisory lock
 * (a worker and a CLI starting together must not both migrate).
 */
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { redactUrl } from '../lib/redact.js';
import * as schema from './schema.js';

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const MIGRATION_LOCK = 0x666c7977; // "flyw"

/**
 * Postgres did not answer at `url` (refused, unknown host, timed out, no such database, wrong credentials): a
 * service problem, not a bug. `url` is already redacted.
 */
export class DatabaseUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach Postgres at ${url}: ${reason}`);
    this.name = 'DatabaseUnreachableError';
  }
}

/** Error codes of node's sockets and Postgres that mean "no usable server there", as opposed to a failed query. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', '57P03', '3D000', '28P01', '28000']);

function unreachableReason(err: unknown): string | null {
  const e = err as { code?: string; message?: string; errors?: Array<{ code?: string; message?: string }> } | null;
  if (!e) return null;
  // AggregateError (localhost resolving to ::1 and 127.0.0.1) keeps its causes in `errors`.
  const code = e.code ?? e.errors?.find((x) => x.code)?.code;
  if (code && UNREACHABLE.has(code)) return e.message || e.errors?.map((x) => x.message).join('; ') || code;
  if (/timeout expired|Connection terminated/i.test(e.message ?? '')) return e.message ?? 'timed out';
  return null;
}

/**
 * Connects to `url` (and checks that the server answers: {@link DatabaseUnreachableError} if not); with
 * `migrate: true` (the default) brings the schema up to date first.
 */
export async function connectDatabase(url: string, options: { migrate?: boolean; max?: number } = {}): Promise<Database> {
  await probe(url);
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

/** One connection with a timeout of its own (a pool's timeout would also bound waiting for a busy pool later). */
async function probe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const reason = unreachableReason(err);
    if (reason) throw new DatabaseUnreachableError(redactUrl(url), reason);
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
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
