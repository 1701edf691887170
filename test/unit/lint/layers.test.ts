/**
 * The layer rules of docs/architecture.md are enforced by lint (eslint.config.js); these cases prove each rule
 * fires on an import against it and stays quiet on an allowed one, so a rule cannot silently stop matching.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

// Type-aware parsing needs files in the project; the layer rules need only the import strings, so the project's
// own config is used with a plain parser for these snippets.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } }, rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-unused-vars': 'off', '@typescript-eslint/consistent-type-imports': 'off' } },
});

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer rules', () => {
  it('lib/ imports none of db/, activities/, workflows/, cli/, nor Temporal', async () => {
    expect(await restricted('lib/search/x.ts', "import { connectDatabase } from '../../db/client.js';")).toHaveLength(1);
    expect(await restricted('lib/x.ts', "import type { Db } from '../db/client.js';")).toHaveLength(1);
    expect(await restricted('lib/x.ts', "import { TASK_QUEUES } from '../workflows/shared.js';")).toHaveLength(1);
    expect(await restricted('lib/verify/math/x.ts', "import { runCommand } from '../../../cli/run.js';")).toHaveLength(1);
    expect(await restricted('lib/x.ts', "import { Context } from '@temporalio/activity';")).toHaveLength(1);
    expect(await restricted('lib/search/x.ts', "import { passAtK } from '../metrics/pass-at-k.js';")).toHaveLength(0);
  });

  it('db/ imports no infra/ or cli/', async () => {
    expect(await restricted('db/x.ts', "import { redactUrl } from '../infra/databases.js';")).toHaveLength(1);
    expect(await restricted('db/x.ts', "import { openDatabase } from '../cli/connections.js';")).toHaveLength(1);
    expect(await restricted('db/x.ts', "import { redactUrl } from '../lib/redact.js';")).toHaveLength(0);
  });

  it('cli/ holds no SQL: its queries are in db/', async () => {
    expect(await restricted('cli/x.ts', "import { sql } from 'drizzle-orm';")).toHaveLength(1);
    expect(await restricted('cli/x.ts', "import pg from 'pg';")).toHaveLength(1);
    expect(await restricted('cli/x.ts', "import { roundReports } from '../db/report.js';")).toHaveLength(0);
  });

  it('activities hold no SQL and import no other activity file', async () => {
    expect(await restricted('activities/x.ts', "import { sql } from 'drizzle-orm';")).toHaveLength(1);
    expect(await restricted('activities/x.ts', "import { traces } from '../db/schema.js';")).toHaveLength(1);
    expect(await restricted('activities/x.ts', "import { startModel } from './round.js';")).toHaveLength(1);
    expect(await restricted('activities/x.ts', "import { startHeartbeats } from './heartbeat.js';")).toHaveLength(0);
    expect(await restricted('activities/x.ts', "import { runTrainerJob } from './trainer-job.js';")).toHaveLength(0);
    expect(await restricted('activities/x.ts', "import { insertTraces } from '../db/traces.js';")).toHaveLength(0);
    expect(await restricted('activities/x.ts', "import type { ShardInput } from '../workflows/shared.js';")).toHaveLength(0);
    expect(await restricted('activities/x.ts', "import { STAGES } from '../workflows/shared.js';")).toHaveLength(1);
  });

  it('workflows import activities as types only, and no Node built-ins', async () => {
    expect(await restricted('workflows/x.ts', "import type { Activities } from '../activities/index.js';")).toHaveLength(0);
    expect(await restricted('workflows/x.ts', "import { createActivities } from '../activities/index.js';")).toHaveLength(1);
    expect(await restricted('workflows/x.ts', "import { readFileSync } from 'node:fs';")).toHaveLength(1);
  });
});
