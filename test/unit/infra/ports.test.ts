import net from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { freePort, isPortFree, portOrFree } from '../../../infra/ports.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function listen(port = 0): Promise<number> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

test('freePort gives a port that can be bound', async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  expect(await isPortFree(port)).toBe(true);
  expect(await listen(port)).toBe(port);
});

test('isPortFree is false while someone listens', async () => {
  const port = await listen();
  expect(await isPortFree(port)).toBe(false);
});

test('portOrFree keeps a free wanted port and moves off a taken one', async () => {
  const wanted = await freePort();
  expect(await portOrFree(wanted)).toEqual({ port: wanted, moved: false });
  const taken = await listen();
  const moved = await portOrFree(taken);
  expect(moved.moved).toBe(true);
  expect(moved.port).not.toBe(taken);
  expect((await portOrFree(undefined)).moved).toBe(false);
});
