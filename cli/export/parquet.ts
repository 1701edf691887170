/**
 * Parquet in the Hugging Face datasets layout, written by hyparquet-writer as rows stream in: a row group per
 * batch, a new shard every `rowsPerShard` rows, and the `-of-N` in the names settled once the count is known
 * (`data/train-00000-of-00002.parquet`).
 */
import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileWriter, ParquetWriter, schemaFromColumnData, type BasicType } from 'hyparquet-writer';

/** A list column (Parquet's 3-level LIST, what `datasets` reads as a sequence): its elements' type. */
export interface ListType {
  list: 'STRING' | 'BOOLEAN' | 'DOUBLE';
}

export interface ParquetColumn<T> {
  name: string;
  type: BasicType | ListType;
  nullable?: boolean;
  value(row: T): unknown;
}

export interface ParquetShards {
  files: string[];
  rows: number;
}

/** A column's type as the dataset card names it: `STRING`, `LIST<BOOLEAN>`... */
export function columnType(column: Pick<ParquetColumn<unknown>, 'type'>): string {
  return typeof column.type === 'string' ? column.type : `LIST<${column.type.list}>`;
}

const LIST_ELEMENT = {
  STRING: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
  BOOLEAN: { type: 'BOOLEAN' },
  DOUBLE: { type: 'DOUBLE' },
} as const;

/** The file schema: scalar columns as hyparquet-writer derives them, list columns spelled out (non-null elements). */
function schemaOf<T>(columns: Array<ParquetColumn<T>>) {
  const root = { name: 'root', num_children: columns.length };
  return [
    root,
    ...columns.flatMap((c) => {
      const nullable = c.nullable ?? true;
      if (typeof c.type === 'string') return schemaFromColumnData({ columnData: [{ name: c.name, data: [], type: c.type, nullable }] }).slice(1);
      return [
        { name: c.name, repetition_type: nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const), converted_type: 'LIST' as const, num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
        { name: 'element', repetition_type: 'REQUIRED' as const, ...LIST_ELEMENT[c.type.list] },
      ];
    }),
  ];
}

const shardName = (split: string, i: number, n: number | null) => `${split}-${String(i).padStart(5, '0')}-of-${n === null ? 'NNNNN' : String(n).padStart(5, '0')}.parquet`;

export async function writeParquetShards<T>(
  rows: AsyncIterable<T>,
  columns: Array<ParquetColumn<T>>,
  options: { dir: string; split?: string; rowsPerShard?: number; batchRows?: number; createdBy?: string },
): Promise<ParquetShards> {
  const split = options.split ?? 'train';
  const rowsPerShard = options.rowsPerShard ?? 200_000;
  const batchRows = Math.min(options.batchRows ?? 5_000, rowsPerShard);
  const dataDir = path.join(options.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const schema = schemaOf(columns);
  const pending: string[] = [];
  let writer: ParquetWriter | null = null;
  let inShard = 0;
  let total = 0;
  let batch: T[] = [];

  const open = () => {
    const file = path.join(dataDir, `.${shardName(split, pending.length, null)}.partial`);
    pending.push(file);
    writer = new ParquetWriter({ writer: fileWriter(file), schema, createdBy: options.createdBy ?? 'flywheel (hyparquet-writer)' });
    inShard = 0;
  };
  const flush = async () => {
    if (batch.length === 0) return;
    if (!writer) open();
    const columnData = columns.map((c) => ({
      name: c.name,
      data: batch.map((row) => c.value(row) ?? null) as never[],
      ...(typeof c.type === 'string' ? { type: c.type, nullable: c.nullable ?? true } : {}),
    }));
    await writer!.write({ columnData, rowGroupSize: batch.length });
    inShard += batch.length;
    total += batch.length;
    batch = [];
    if (inShard >= rowsPerShard) {
      await writer!.finish();
      writer = null;
    }
  };

  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= batchRows || inShard + batch.length >= rowsPerShard) await flush();
  }
  await flush();
  // An empty export is still a dataset: one shard with the schema and no rows.
  if (pending.length === 0) open();
  if (writer) await (writer as ParquetWriter).finish();
  const files = pending.map((file, i) => {
    const final = path.join(dataDir, shardName(split, i, pending.length));
    renameSync(file, final);
    return final;
  });
  return { files, rows: total };
}
