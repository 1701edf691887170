import net from 'node:net';

/**
 * A TCP port nobody listens on right now, chosen by the OS. Another process may still take it before we bind it,
 * so callers that spawn a server retry with a fresh port when the bind fails.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>(function listenOnAnyPort(resolve, reject) {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, function onListening() {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error(`could not read a free port on ${host}`))));
    });
  });
}

/** Whether `port` can be bound on `host` now (false when someone listens on it, or on the wildcard address). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise<boolean>(function tryListen(resolve, reject) {
    const server = net.createServer();
    server.unref();
    server.once('error', function onError(error: NodeJS.ErrnoException) {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `wanted` when it is free, else a free port chosen by the OS; `moved` says which happened. */
export async function portOrFree(
  wanted: number | undefined,
  host = '127.0.0.1',
): Promise<{ port: number; moved: boolean }> {
  if (wanted !== undefined && (await isPortFree(wanted, host))) return { port: wanted, moved: false };
  return { port: await freePort(host), moved: wanted !== undefined };
}
