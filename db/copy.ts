/**
 * Bulk writes at Postgres's own pace: rows are streamed with `COPY ... FROM STDIN` (pg-copy-streams) into a staging
 * table, then merged into the real table by one `INSERT ... SELECT ... ON CONFLICT` with the table's own keys, so a
 * retried batch writes nothing twice, exactly as a plain insert with the same conflict rule would. COPY alone cannot
 * skip rows that already exist; the merge can, at the cost of one statement per batch.
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
  /** Columns of the rows actually inserted to return (none by default: only the count). */
  returning?: readonly string[];
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
 * COPYs `rows` into a session-local staging table shaped like the target's columns, then merges them in the same
 * transaction. Returns the rows the merge inserted (or updated), with the `returning` columns.
 *
 * @example
 * const { count } = await copyMerge(pool, { table: '"flywheel"."verdicts"', columns, onConflict: { nothing: true } }, rows);
 */
export async function copyMerge<Row>(pool: pg.Pool, spec: CopyMerge<Row>, rows: readonly Row[]): Promise<{ count: number; rows: Array<Record<string, unknown>> }> {
  if (rows.length === 0) return { count: 0, rows: [] };
  const names = spec.columns.map((c) => quote(c.name)).join(', ');
  // One staging table per target and column list per connection, emptied by every commit: no DDL per batch.
  const stage = `flywheel_stage_${createHash('sha1').update(`${spec.table}(${names})`).digest('hex').slice(0, 12)}`;
  if ('append' in spec.onConflict) return { count: await copyInto(pool, spec.table, names, copyLines(rows, spec.columns)), rows: [] };
  const conflict =
    'nothing' in spec.onConflict
      ? 'ON CONFLICT DO NOTHING'
      : `ON CONFLICT (${spec.onConflict.key.map(quote).join(', ')}) DO UPDATE SET ${spec.onConflict.update.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`;
  const returning = spec.returning?.length ? ` RETURNING ${spec.returning.map(quote).join(', ')}` : '';
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} ON COMMIT DELETE ROWS AS SELECT ${names} FROM ${spec.table} WITH NO DATA`);
    await pipeline(Readable.from(copyLines(rows, spec.columns)), client.query(copyFrom(`COPY ${stage} (${names}) FROM STDIN`)));
    const merged = await client.query(`INSERT INTO ${spec.table} (${names}) SELECT ${names} FROM ${stage} ${conflict}${returning}`);
    await client.query('COMMIT');
    return { count: merged.rowCount ?? 0, rows: merged.rows as Array<Record<string, unknown>> };
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
