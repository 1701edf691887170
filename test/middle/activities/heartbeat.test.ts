/** Liveness heartbeats follow the activity's heartbeat timeout, however short the config makes it. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { adaptToTemporal } from '../../../activities/adapt.js';
import { heartbeatPeriodMs, startHeartbeats } from '../../../activities/heartbeat.js';
import { activityEnvironment } from '../fixtures.js';

/** Runs `body` in an activity environment with this heartbeat timeout; returns when each heartbeat came (ms). */
async function heartbeatTimes(heartbeatTimeoutMs: number, body: () => Promise<void>): Promise<number[]> {
  const env = activityEnvironment({ heartbeatTimeoutMs });
  const started = Date.now();
  const times: number[] = [];
  env.on('heartbeat', () => times.push(Date.now() - started));
  await env.run(body);
  return times;
}

describe('heartbeats', () => {
  it('a control activity under a 1 s heartbeat timeout beats at once and then well within the timeout', async () => {
    const { slowControl } = adaptToTemporal({ slowControl: async (_: never) => void (await sleep(900)) });
    const times = await heartbeatTimes(1000, () => slowControl(undefined as never));
    expect(times[0]).toBeLessThan(100);
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThan(500);
  });

  it('an activity that heartbeats itself does so on the same period', async () => {
    const times = await heartbeatTimes(900, async () => {
      const beats = startHeartbeats();
      await sleep(700);
      beats.stop();
    });
    expect(times[0]).toBeLessThan(100);
    expect(times.length).toBeGreaterThanOrEqual(3);
  });

  it('the period is a third of the timeout, at most 1 s and at least 50 ms', () => {
    expect(heartbeatPeriodMs(1000)).toBeCloseTo(333.3, 0);
    expect(heartbeatPeriodMs(60_000)).toBe(1000);
    expect(heartbeatPeriodMs(60)).toBe(50);
    expect(heartbeatPeriodMs(undefined)).toBe(1000);
  });
});
