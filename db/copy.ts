/**
 * Bulk writes at Postgres's own pace: rows are streamed with `COPY ... FROM STDIN` (pg-copy-streams), straight into
 * the table when none of their keys exists yet, else into a staging table merged into the real one by one
 * `INSERT ... SELECT ... ON CONFLICT` with the table's own keys, so a retried batch writes nothing twice, exactly as
 * a plain insert with the same conflict rule would.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from './client.js';

/** A column of a COPY: its name in the table and how a row gives its value (null/undefined: SQL NULL). */
export interface CopyColumn<Row> {
  name: string;
  value: (row: Row) => unknown;
}

export interface CopyMerge<Row> {
  /** The target, schema-qualified and quoted as it should appear in SQL, e.g. `"flywheel"."traces"`. */
  table: string;
  columns: ReadonlyArray<CopyColumn<Row>>;
  /**
   * What a row whose key already exists does: `nothing`, or an update of these columns from the new row (the key's
   * columns name the conflict target). A table without a key (`append`) is COPied into directly, with no staging.
   */
  onConflict: { nothing: true } | { key: readonly string[]; update: readonly string[] } | { append: true };
}

/** A pg pool from the drizzle database it backs (every `Db` of connectDatabase has one). */
export function poolOf(db: Db): pg.Pool {
  const pool = (db as Db & { $client?: pg.Pool }).$client;
  if (!pool || typeof pool.connect !== 'function') throw new Error('bulk write: this database handle has no pg pool behind it');
  return pool;
}

/** One value in COPY's text format: `\N` for NULL, backslash escapes for the characters that delimit rows and fields. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

/** Rows as COPY text lines, a few hundred rows per chunk (so a large batch is not one huge string). */
function* copyLines<Row>(rows: readonly Row[], columns: ReadonlyArray<CopyColumn<Row>>): Generator<string> {
  let chunk = '';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    chunk += columns.map((c) => copyText(c.value(row))).join('\t') + '\n';
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Writes `rows` with the target's conflict rule. The common case, a batch none of whose keys exist yet (a shard's
 * first attempt: a retried shard asks only for what is missing), is one plain COPY into the table, at Postgres's
 * own pace. A COPY is all or nothing, so a batch that meets an existing key (or repeats one) writes nothing there and
 * is COPied instead into a session-local staging table and merged by `INSERT ... SELECT ... ON CONFLICT`, in the
 * same transaction. Returns how many rows were inserted (or updated).
 *
 * @example
 * const count = await copyMerge(pool, { table: '"flywheel"."verdicts"', columns, onConflict: { nothing: true } }, rows);
 */
export async function copyMerge<Row>(pool: pg.Pool, spec: CopyMerge<Row>, rows: readonly Row[]): Promise<number> {
  if (rows.length === 0) return 0;
  const names = spec.columns.map((c) => quote(c.name)).join(', ');
  if ('append' in spec.onConflict) return copyInto(pool, spec.table, names, copyLines(rows, spec.columns));
  // One staging table per target and column list per connection, emptied by every commit: no DDL per batch.
  const stage = `flywheel_stage_${createHash('sha1').update(`${spec.table}(${names})`).digest('hex').slice(0, 12)}`;
  const conflict =
    'nothing' in spec.onConflict
      ? 'ON CONFLICT DO NOTHING'
      : `ON CONFLICT (${spec.onConflict.key.map(quote).join(', ')}) DO UPDATE SET ${spec.onConflict.update.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`;
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query('SAVEPOINT flywheel_copy');
    try {
      const direct = client.query(copyFrom(`COPY ${spec.table} (${names}) FROM STDIN`));
      await pipeline(Readable.from(copyLines(rows, spec.columns)), direct);
      await client.query('COMMIT');
      return direct.rowCount;
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      await client.query('ROLLBACK TO SAVEPOINT flywheel_copy');
    }
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} ON COMMIT DELETE ROWS AS SELECT ${names} FROM ${spec.table} WITH NO DATA`);
    await pipeline(Readable.from(copyLines(rows, spec.columns)), client.query(copyFrom(`COPY ${stage} (${names}) FROM STDIN`)));
    const merged = await client.query(`INSERT INTO ${spec.table} (${names}) SELECT ${names} FROM ${stage} ${conflict}`);
    await client.query('COMMIT');
    return merged.rowCount ?? 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    // A connection that could not even roll back is dropped, not handed to the next caller mid-transaction.
    client.release(broken);
  }
}

const UNIQUE_VIOLATION = '23505';

/** A plain COPY into `table` (a table whose rows have no key to merge on). */
async function copyInto(pool: pg.Pool, table: string, names: string, lines: Iterable<string>): Promise<number> {
  const client = await pool.connect();
  try {
    const copy = client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN`));
    await pipeline(Readable.from(lines), copy);
    return copy.rowCount;
  } finally {
    client.release();
  }
}
