import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import {
  TEMPORAL_CLI_VERSION,
  cachedTemporalCliPath,
  locateTemporalCli,
  reportedVersion,
} from '../../../infra/temporal-cli.js';

let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flywheel-cli-'));
});
afterEach(() => {
  for (const key of ['FLYWHEEL_TEMPORAL_CLI', 'XDG_CACHE_HOME', 'PATH']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in `temporal` that prints a version line like the real one. */
async function fakeCli(file: string, version: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\necho "temporal version ${version} (Server 1.29.1, UI 2.42.1)"\n`);
  await chmod(file, 0o755);
  return file;
}

function isolate(): void {
  process.env.XDG_CACHE_HOME = path.join(dir, `cache-${Math.random().toString(36).slice(2)}`);
  process.env.PATH = '/usr/bin:/bin';
  delete process.env.FLYWHEEL_TEMPORAL_CLI;
}

test('FLYWHEEL_TEMPORAL_CLI wins, and naming nothing executable is an error', async () => {
  isolate();
  const custom = await fakeCli(path.join(dir, 'custom', 'temporal'), '9.9.9');
  process.env.FLYWHEEL_TEMPORAL_CLI = custom;
  expect(await locateTemporalCli()).toBe(custom);
  process.env.FLYWHEEL_TEMPORAL_CLI = path.join(dir, 'missing');
  await expect(locateTemporalCli()).rejects.toThrow(/FLYWHEEL_TEMPORAL_CLI=.*missing is not an executable/);
});

test('the cache under XDG_CACHE_HOME is found by its versioned name', async () => {
  isolate();
  expect(await locateTemporalCli()).toBeNull();
  const cached = cachedTemporalCliPath();
  expect(cached).toBe(path.join(process.env.XDG_CACHE_HOME as string, 'flywheel', 'bin', `temporal-${TEMPORAL_CLI_VERSION}`));
  await fakeCli(cached, '0.0.0-DEV');
  expect(await locateTemporalCli()).toBe(cached);
});

test('a temporal on PATH counts only when it reports the pinned version', async () => {
  isolate();
  const pinned = path.join(dir, 'path-pinned');
  const other = path.join(dir, 'path-other');
  await fakeCli(path.join(pinned, 'temporal'), TEMPORAL_CLI_VERSION);
  await fakeCli(path.join(other, 'temporal'), '1.6.0');
  process.env.PATH = `${pinned}:/usr/bin:/bin`;
  expect(await locateTemporalCli()).toBe(path.join(pinned, 'temporal'));
  process.env.PATH = `${other}:/usr/bin:/bin`;
  expect(await locateTemporalCli()).toBeNull();
});

test('reportedVersion reads `temporal --version`', async () => {
  expect(await reportedVersion(await fakeCli(path.join(dir, 'v', 'temporal'), 'v1.5.1'))).toBe('1.5.1');
  expect(await reportedVersion(path.join(dir, 'nothing-here'))).toBeNull();
});
