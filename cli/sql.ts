/** `flywheel sql [query]`: query the flywheel database without needing psql installed. */
import { openDatabase, resolveConnections } from './connections.js';

export async function sqlCommand(query: string | undefined, options: { json?: boolean }) {
  const c = resolveConnections();
  if (!query) {
    process.stdout.write(
      [
        `psql "${c.databaseUrl}"`,
        '',
        'Views to start with: flywheel.round_metrics, flywheel.training_examples, flywheel.problem_difficulty, flywheel.model_lineage',
      ].join('\n') + '\n',
    );
    return;
  }
  const database = await openDatabase(c.databaseUrl, { migrate: false });
  try {
    const res = await database.pool.query(query);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(res.rows)}\n`);
      return;
    }
    const cols = res.fields.map((f) => f.name);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)).replace(/\n/g, '⏎');
    const rows = res.rows.map((r) => cols.map((col) => cell(r[col]).slice(0, 80)));
    const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((x, i) => x.padEnd(widths[i])).join(' | ');
    process.stdout.write([line(cols), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line), `(${rows.length} rows)`].join('\n') + '\n');
  } finally {
    await database.close();
  }
}
