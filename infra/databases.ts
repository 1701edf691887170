import pg from 'pg';
import { redactUrl } from '../lib/redact.js';

export { redactUrl };

/**
 * Creates `dbName` if missing, through a connection to `adminUrl`; returns the URL of `dbName` (the admin URL with
 * its database swapped). Tests use it for a fresh database per test file.
 *
 * @example
 * const url = await ensureDatabase(db.adminUrl, `flywheel_test_${process.pid}`);
 */
export async function ensureDatabase(adminUrl: string, dbName: string): Promise<string> {
  await withClient(adminUrl, async function createIfMissing(client) {
    const found = await client.query('select 1 from pg_database where datname = $1', [dbName]);
    if (found.rowCount) return;
    try {
      await client.query(`create database ${client.escapeIdentifier(dbName)}`);
    } catch (error) {
      // 42P04 duplicate_database: created meanwhile by someone else.
      if ((error as { code?: string }).code !== '42P04') throw error;
    }
  });
  return databaseUrl(adminUrl, dbName);
}

/** Drops `dbName` if it exists, ending its open connections first (Postgres 13+). */
export async function dropDatabase(adminUrl: string, dbName: string): Promise<void> {
  await withClient(adminUrl, async function drop(client) {
    await client.query(`drop database if exists ${client.escapeIdentifier(dbName)} with (force)`);
  });
}

/** The same server and credentials, another database. */
export function databaseUrl(url: string, dbName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(dbName)}`;
  return parsed.toString();
}

/** Connects (or says which URL did not answer), runs `use`, disconnects. */
export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(error as Error).message}`);
  }
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
