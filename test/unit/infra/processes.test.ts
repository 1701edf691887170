import { spawn } from 'node:child_process';
import { expect, test } from 'vitest';
import { OutputTail, isAlive, sleep, startWatchdog, terminate, waitForExit } from '../../../infra/processes.js';

function sleeper(args: string[] = ['60'], detached = false) {
  const child = spawn('sleep', args, { stdio: 'ignore', detached });
  return child;
}

test('terminate ends a process and waits for it', async () => {
  const child = sleeper();
  await new Promise((resolve) => child.once('spawn', resolve));
  expect(isAlive(child.pid as number)).toBe(true);
  await terminate(child.pid as number, { graceMs: 2_000 });
  expect(isAlive(child.pid as number)).toBe(false);
});

test('terminate falls back to SIGKILL when the signal is ignored', async () => {
  const child = spawn('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done'], { stdio: 'ignore', detached: true });
  await new Promise((resolve) => child.once('spawn', resolve));
  await sleep(100); // let the trap be set
  const started = Date.now();
  await terminate(child.pid as number, { graceMs: 300, group: true });
  expect(isAlive(child.pid as number)).toBe(false);
  expect(Date.now() - started).toBeLessThan(3_000);
});

test('a released watchdog leaves its process alone', async () => {
  const child = sleeper(['60'], true);
  await new Promise((resolve) => child.once('spawn', resolve));
  const watchdog = startWatchdog(child.pid as number, { group: true, graceSeconds: 1 });
  watchdog.release();
  await sleep(300);
  expect(isAlive(child.pid as number)).toBe(true);
  await terminate(child.pid as number, { group: true });
  expect(await waitForExit(child.pid as number, 1_000)).toBe(true);
});

test('OutputTail keeps the last lines, including a partial one', () => {
  const tail = new OutputTail(2);
  tail.push('one\ntwo\n');
  tail.push('three\nfo');
  tail.push('ur');
  expect(tail.toString()).toBe('two\nthree\nfour');
});
