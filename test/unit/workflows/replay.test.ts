/**
 * Determinism: every recorded history in test/histories/ must replay against the current workflow code. A change
 * that would break workflows already running (reordered activities, a removed branch) fails here. When such a
 * change is intended, patch the workflow (workflow versioning) or re-record with `npx tsx test/histories/record.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { installQuietRuntime } from '../../../cli/runtime.js';
import { workflowBundle } from '../../../cli/worker.js';

const dir = new URL('../../histories/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded workflow histories replay against the current code', () => {
  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  it.each(files)('%s', async (file) => {
    installQuietRuntime('ERROR');
    const history = historyFromJSON(JSON.parse(readFileSync(new URL(file, dir), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file.replace(/\.json$/, ''));
  });
});
