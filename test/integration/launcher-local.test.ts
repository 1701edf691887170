/**
 * The `local` launcher with real processes: the trainer is a detached process that outlives a worker-like process
 * SIGKILLed mid-job; the replacement reattaches by the recorded identity (pid + start time), never starts the
 * trainer again, and reads how it ended from status.json.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { startDriver } from '../helpers/driver-process.js';
import { isRunning, waitFor } from '../helpers/processes.js';
import { writeCountdownJsonl } from '../helpers/train-data.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const workdir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-local-launcher-'));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));
const dataset = writeCountdownJsonl(path.join(workdir, 'train.jsonl'), 200);
const runs = path.join(workdir, 'trainer-starts.txt');
// Each start of the trainer appends a line: the count of starts, kept outside flywheel's own records.
const command = `echo "$$" >> ${runs}; sleep 3; ${ROOT}/node_modules/.bin/tsx ${ROOT}/cli/main.ts train-policy --data {dataset} --output {outputDir} --epochs {epochs} --seed {seed}`;

it('a worker SIGKILLed while its local job runs: the job lives on, the next worker reattaches, one trainer start', async () => {
  const options = { workdir, command, launcher: { kind: 'local' }, runId: 'local', round: 1, dataset, epochs: 3 };
  const first = startDriver(options);
  await first.waitFor((e) => e.event === 'status' && e.status === 'running');
  const record = JSON.parse(readFileSync(path.join(workdir, 'local/round-1/job-1/job.json'), 'utf8'));
  expect(record.local).toMatchObject({ pid: expect.any(Number), startTicks: expect.any(Number) });
  await first.kill();
  expect(isRunning(record.local.pid)).toBe(true); // the trainer outlived its worker

  const second = startDriver(options);
  expect(await second.waitFor((e) => e.event === 'found' || e.event === 'submitted')).toMatchObject({ event: 'found', id: 'local/round-1/job-1' });
  const done = await second.waitFor((e) => e.event === 'done');
  expect(done.job).toMatchObject({ status: 'succeeded', model: 'fw-local-r1', exitCode: 0, progressHistory: 3 });
  expect(readFileSync(runs, 'utf8').trim().split('\n')).toHaveLength(1);
  expect(JSON.parse(readFileSync(path.join(workdir, 'local/round-1/job-1/status.json'), 'utf8'))).toMatchObject({ exitCode: 0, signal: null });

  // A third worker after the end finds the finished job and starts nothing.
  const third = startDriver(options);
  expect(await third.waitFor((e) => e.event === 'found' || e.event === 'submitted')).toMatchObject({ event: 'found', status: 'succeeded' });
  await third.waitFor((e) => e.event === 'done');
  expect(readFileSync(runs, 'utf8').trim().split('\n')).toHaveLength(1);
});

it('a local trainer that exits 1 fails with its exit code and log tail; a process gone without a status file fails too', async () => {
  const failing = startDriver({ workdir, command: 'echo "ValueError: bad dataset" >&2; exit 1', launcher: { kind: 'local' }, runId: 'fail', round: 1, dataset });
  const done = await failing.waitFor((e) => e.event === 'done');
  expect(done.job).toMatchObject({ status: 'failed', exitCode: 1 });
  expect(done.job?.error).toMatch(/exited with code 1\. Last lines of .*\nValueError: bad dataset/);

  // SIGKILL of the job's whole session: no trap runs, no status.json; the pid is gone, and that is a failure.
  const killed = startDriver({ workdir, command: 'sleep 30', launcher: { kind: 'local' }, runId: 'vanish', round: 1, dataset });
  await killed.waitFor((e) => e.event === 'status' && e.status === 'running');
  const record = JSON.parse(readFileSync(path.join(workdir, 'vanish/round-1/job-1/job.json'), 'utf8'));
  process.kill(-record.local.pid, 'SIGKILL');
  const gone = await killed.waitFor((e) => e.event === 'done');
  expect(gone.job?.status).toBe('failed');
  expect(gone.job?.error).toMatch(/process \d+ is gone, and the job script wrote no status\.json/);
  await waitFor('the sleep to be gone', () => !existsSync(`/proc/${record.local.pid}`) || !isRunning(record.local.pid));
});
