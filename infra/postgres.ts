import { redactUrl, withClient } from './databases.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import type { Log } from './log.js';

export { databaseUrl, dropDatabase, ensureDatabase, redactUrl } from './databases.js';

export interface PostgresOptions {
  /** Folder of the embedded cluster (e.g. `.flywheel/pg`); unused when `DATABASE_URL` is set. */
  dataDir: string;
  log?: Log;
  /** The database to create and return (embedded only); default `flywheel`. */
  database?: string;
  /** A server to use instead of an embedded one; default `process.env.DATABASE_URL`; null: always embedded. */
  externalUrl?: string | null;
}

export interface PostgresHandle {
  /** URL of the flywheel database. */
  url: string;
  /** URL of a database to create and drop others from (`ensureDatabase`, `dropDatabase`). */
  adminUrl: string;
  /** false when `DATABASE_URL` was used. */
  embedded: boolean;
  /** Ends the embedded cluster; a no-op for `DATABASE_URL`. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The Postgres flywheel writes to: `DATABASE_URL` when set (checked to accept connections), else an embedded
 * cluster under `dataDir` on a port of its own, with the database `flywheel` created if missing. Started again on the
 * same `dataDir`, the cluster finds its data and, while it is free, its port.
 *
 * @example
 * const db = await startPostgres({ dataDir: '.flywheel/pg' });
 * // ... drizzle(db.url) ...
 * await db.stop();
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresHandle> {
  const external = options.externalUrl === undefined ? process.env.DATABASE_URL : options.externalUrl;
  if (!external) return startEmbeddedPostgres(options);
  await withClient(external, (client) => client.query('select 1')).catch((error: Error) => {
    throw new Error(
      `DATABASE_URL (${redactUrl(external)}) does not accept connections: ${error.message.replace(/^cannot connect to \S+: /, '')}. ` +
        'Check that the server runs and the credentials are right, or unset DATABASE_URL to use embedded Postgres.',
    );
  });
  return { url: external, adminUrl: external, embedded: false, stop: async () => undefined };
}
