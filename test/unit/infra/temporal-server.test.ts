import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { terminate } from '../../../infra/processes.js';
import { startTemporalDevServer } from '../../../infra/temporal-server.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-server-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a server that dies during start-up is reported with its output', async () => {
  const broken = path.join(dir, 'broken-temporal');
  await writeFile(broken, '#!/bin/sh\necho "failed starting server: boom" >&2\nexit 3\n');
  await chmod(broken, 0o755);
  const failure = await startTemporalDevServer({ executable: broken, uiPort: false, log: () => {} }).catch((e: Error) => e);
  expect((failure as Error).message).toMatch(/exited during start-up \(code 3\)[\s\S]*failed starting server: boom/);
});

test('a second server on a db file in use is refused', async () => {
  const dbFile = path.join(dir, 'busy.db');
  // Stands in for a running server: its command line names the db file, and its owner (us) is alive.
  const running = spawn('sh', ['-c', 'sleep 30', dbFile], { stdio: 'ignore', detached: true });
  await new Promise((resolve) => running.once('spawn', resolve));
  try {
    await writeFile(`${dbFile}.server.json`, JSON.stringify({ pid: running.pid, ownerPid: process.pid, address: '127.0.0.1:1' }));
    await expect(startTemporalDevServer({ dbFile, executable: '/bin/false', log: () => {} })).rejects.toThrow(
      /already runs on .*busy\.db \(pid \d+, 127\.0\.0\.1:1\).*this process: stop it first/,
    );
  } finally {
    await terminate(running.pid as number, { group: true });
  }
});
