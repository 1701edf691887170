/** Reading large results through a server-side cursor (pg-query-stream), a batch of rows at a time. */
import type pg from 'pg';
import QueryStream from 'pg-query-stream';

/** Rows of `text` with parameters, one at a time through a cursor on a client of its own (released at the end). */
export async function* streamRows<T>(pool: pg.Pool, text: string, values: unknown[], batchSize = 1000): AsyncGenerator<T> {
  const client = await pool.connect();
  try {
    const stream = client.query(new QueryStream(text, values, { batchSize }));
    for await (const row of stream) yield row as T;
  } finally {
    client.release();
  }
}
