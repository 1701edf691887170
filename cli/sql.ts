/**
 * `flywheel sql [query]`: query the flywheel database without needing psql installed. People inspect as a
 * read-only login by default (a slip in psql cannot delete a round a workflow is writing); `--write` is the owner.
 */
import { openDatabase, resolveConnections, MissingServiceError } from './connections.js';

/** The login the migrations create with the flywheel_reader role (no password: for servers that trust local logins). */
export const READER_LOGIN = 'flywheel_reader_login';

/**
 * The read-only connection string: `FLYWHEEL_READER_URL` when a team gave its people a login of their own (see
 * README.md, read-only SQL), else the owner's server and database as {@link READER_LOGIN}, without a password, in
 * read-only transactions as a second guard.
 */
export function readerUrl(ownerUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLYWHEEL_READER_URL) return env.FLYWHEEL_READER_URL;
  const url = new URL(ownerUrl);
  url.username = READER_LOGIN;
  url.password = '';
  url.searchParams.delete('options');
  // %20, not URLSearchParams' `+`: libpq (psql) does not read `+` as a space.
  const options = `options=${encodeURIComponent('-c default_transaction_read_only=on')}`;
  return `${url.toString()}${url.search ? '&' : '?'}${options}`;
}

export async function sqlCommand(query: string | undefined, options: { json?: boolean; write?: boolean }) {
  const c = resolveConnections();
  const url = options.write ? c.databaseUrl : readerUrl(c.databaseUrl);
  if (!query) {
    process.stdout.write(
      [
        `psql "${url}"`,
        options.write ? '(the owner: it can change what runs write)' : '(read-only: SELECT on the flywheel tables and views; --write for the owner)',
        '',
        'Views to start with: flywheel.round_metrics, flywheel.round_costs, flywheel.training_examples, flywheel.problem_difficulty, flywheel.model_lineage',
      ].join('\n') + '\n',
    );
    return;
  }
  const database = await openDatabase(url, { migrate: false }).catch((err: unknown) => {
    if (err instanceof MissingServiceError && !options.write) {
      throw new MissingServiceError(
        `${err.message.split('\n')[0]}\n  as the read-only login: on a server that asks for passwords, or where the owner may not create roles, ` +
          'set FLYWHEEL_READER_URL to a login granted flywheel_reader (README.md, "Read-only SQL"), or pass --write to query as the owner',
      );
    }
    throw err;
  });
  try {
    const res = await database.pool.query(query);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(res.rows)}\n`);
      return;
    }
    const cols = res.fields.map((f) => f.name);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)).replace(/\n/g, '⏎');
    const rows = res.rows.map((r) => cols.map((col) => cell(r[col]).slice(0, 80)));
    const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((x, i) => x.padEnd(widths[i]!)).join(' | ');
    process.stdout.write([line(cols), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line), `(${rows.length} rows)`].join('\n') + '\n');
  } finally {
    await database.close();
  }
}
