/**
 * Temporal behind TLS and mTLS, as a team's cluster or Temporal Cloud is: node `tls` servers terminate TLS in front
 * of the dev server's plaintext gRPC port (the mTLS one demands a client certificate signed by its CA), with
 * certificates made here with `openssl`. A run is started by the real `flywheel run` through TLS with an API key
 * and executed by workers connected through mTLS with a temporal.toml profile; a wrong CA, a missing client
 * certificate and a client certificate from another CA exit 3 with what to check.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTemporal, resolveTemporal, type TemporalTarget, type TemporalTls } from '../../cli/connections.js';
import { createDefaultDeps } from '../../activities/deps.js';
import { installQuietRuntime } from '../../cli/runtime.js';
import { startWorkers, type RunningWorkers } from '../../cli/worker.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import { runFlywheel } from '../helpers/processes.js';
import { tempDir, testDatabase, testModelServer, testTemporal, type TestDatabase } from '../helpers/services.js';

const API_KEY = 'tmprl-test-key-must-never-be-printed';

let home: ReturnType<typeof tempDir>;
let db: TestDatabase;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let tlsAddress: string;
let mtlsAddress: string;
const proxies: tls.Server[] = [];
let workers: RunningWorkers | null = null;
const file = (name: string) => path.join(home.dir, name);

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: home.dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (`<name>-ca.pem`, `<name>-ca.key`). */
function makeCa(name: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`,
    '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

/** A leaf certificate `<name>.pem` / `<name>.key` signed by `ca`, for a server (localhost, 127.0.0.1) or a client. */
function makeLeaf(name: string, ca: string, usage: 'server' | 'client'): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  const ext = usage === 'server'
    ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
    : 'extendedKeyUsage=clientAuth\n';
  writeFileSync(file(`${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}-ca.pem`, '-CAkey', `${ca}-ca.key`, '-CAcreateserial',
    '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

/** TLS in front of the dev server: bytes piped both ways once the handshake (and, for mTLS, the client's certificate) passed. */
async function tlsProxy(options: tls.TlsOptions): Promise<string> {
  const [host, port] = temporal.address.split(':');
  const server = tls.createServer({ ...options, ALPNProtocols: ['h2'] }, function pipeToDevServer(socket) {
    const upstream = net.connect(Number(port), host);
    socket.pipe(upstream).pipe(socket);
    const close = () => (socket.destroy(), upstream.destroy());
    socket.on('error', close);
    upstream.on('error', close);
    socket.on('close', close);
    upstream.on('close', close);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxies.push(server);
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const NO_FILE = () => ({ TEMPORAL_CONFIG_FILE: file('none.toml'), HOME: home.dir });

beforeAll(async () => {
  home = tempDir('temporal-tls');
  makeCa('server');
  makeCa('client');
  makeCa('rogue');
  makeLeaf('frontend', 'server', 'server');
  makeLeaf('worker', 'client', 'client');
  makeLeaf('intruder', 'rogue', 'client');
  [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
  const serverCert = { key: readFileSync(file('frontend.key')), cert: readFileSync(file('frontend.pem')) };
  tlsAddress = await tlsProxy(serverCert);
  mtlsAddress = await tlsProxy({ ...serverCert, ca: readFileSync(file('client-ca.pem')), requestCert: true, rejectUnauthorized: true });
  writeFileSync(
    file('temporal.toml'),
    [
      '[profile.default]',
      `address = "127.0.0.1:1"`,
      '',
      '[profile.mtls]',
      `address = "${mtlsAddress}"`,
      `namespace = "${temporal.namespace}"`,
      '[profile.mtls.tls]',
      `server_ca_cert_path = "${file('server-ca.pem')}"`,
      `client_cert_path = "${file('worker.pem')}"`,
      `client_key_path = "${file('worker.key')}"`,
      '',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await workers?.shutdown();
  for (const p of proxies) p.close();
  await Promise.allSettled([model?.close(), temporal?.stop()]);
  await db?.drop();
  home?.remove();
});

describe('resolving the Temporal target from the environment configuration', () => {
  it('reads a temporal.toml profile chosen by TEMPORAL_PROFILE, with its CA and client certificate', () => {
    const target = resolveTemporal({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_PROFILE: 'mtls', HOME: home.dir }, null)!;
    expect(target.address).toBe(mtlsAddress);
    expect(target.namespace).toBe(temporal.namespace);
    const tlsConfig = target.tls as TemporalTls;
    expect(Buffer.from(tlsConfig.serverRootCACertificate!).equals(readFileSync(file('server-ca.pem')))).toBe(true);
    expect(Buffer.from(tlsConfig.clientCertPair!.crt).equals(readFileSync(file('worker.pem')))).toBe(true);
    expect(Buffer.from(tlsConfig.clientCertPair!.key).equals(readFileSync(file('worker.key')))).toBe(true);
    expect(describeTemporal(target)).toBe(`Temporal at ${mtlsAddress} (namespace ${temporal.namespace}, profile "mtls" of ${file('temporal.toml')}, mTLS, own CA)`);
  });

  it('lets TEMPORAL_* variables override the profile, and never describes the key', () => {
    const target = resolveTemporal({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_ADDRESS: tlsAddress, TEMPORAL_API_KEY: API_KEY, HOME: home.dir }, null)!;
    expect(target).toMatchObject({ address: tlsAddress, namespace: 'default', apiKey: API_KEY, tls: true });
    expect(describeTemporal(target)).toBe(`Temporal at ${tlsAddress} (namespace default, profile "default" of ${file('temporal.toml')}, address from TEMPORAL_ADDRESS, TLS, API key set)`);
  });

  it('says what is wrong with an unknown profile, a missing certificate file, or TLS without an address', () => {
    expect(() => resolveTemporal({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_PROFILE: 'prod' }, null)).toThrow(
      /Profile 'prod' not found.*profiles there: default, mtls/,
    );
    expect(() => resolveTemporal({ ...NO_FILE(), TEMPORAL_ADDRESS: tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('missing.pem') }, null)).toThrow(
      /TLS settings: .*missing\.pem/,
    );
    expect(() => resolveTemporal({ ...NO_FILE(), TEMPORAL_API_KEY: API_KEY }, null)).toThrow(/API key is configured .* but no address: set TEMPORAL_ADDRESS/);
  });

  it('falls back to the `flywheel dev` stack, plaintext, when nothing is configured', () => {
    const stack = { databaseUrl: db.url, temporalAddress: temporal.address, namespace: 'default', modelUrl: null, uiUrl: null, pid: process.pid, startedAt: '', worker: false };
    const target = resolveTemporal(NO_FILE(), stack)!;
    expect(target).toEqual({ address: temporal.address, namespace: 'default', origin: { profile: null, configFile: null, source: 'stack' } });
    expect(resolveTemporal(NO_FILE(), null)).toBeNull();
  });
});

describe('a run through TLS (client, API key) and mTLS (workers)', () => {
  it('is started by `flywheel run` and completed by workers on the mTLS endpoint', async () => {
    const mtls = resolveTemporal({ TEMPORAL_CONFIG_FILE: file('temporal.toml'), TEMPORAL_PROFILE: 'mtls', HOME: home.dir }, null) as TemporalTarget;
    installQuietRuntime('ERROR');
    workers = await startWorkers({ ...mtls, deps: createDefaultDeps({ db: db.db, embeddedModelUrl: model.url, env: {} }) });
    const config = file('run.yaml');
    writeFileSync(config, [
      'name: tls', 'rounds: 1', 'task: {kind: countdown, seed: 3, train: 12, test: 6}',
      'generate: {samplesPerProblem: 4, shardSamples: 64}', 'finetune: {pollIntervalMs: 200}', 'evaluate: {samples: 2, k: [1, 2]}', '',
    ].join('\n'));
    const r = await runFlywheel(['run', config, '--json', '--wait'], {
      ...NO_FILE(),
      FLYWHEEL_HOME: home.dir,
      DATABASE_URL: db.url,
      FLYWHEEL_MODEL_URL: model.url,
      TEMPORAL_ADDRESS: tlsAddress,
      TEMPORAL_NAMESPACE: temporal.namespace,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('server-ca.pem'),
    }, 180_000);
    expect(r.code, r.stderr).toBe(0);
    const { runId } = JSON.parse(r.stdout.trim().split('\n')[0]!) as { runId: string };
    expect(r.stderr.match(/^flywheel: Temporal at .*$/gm)).toEqual([`flywheel: Temporal at ${tlsAddress} (namespace ${temporal.namespace}, from TEMPORAL_* variables, TLS, own CA, API key set)`]);
    expect(r.stdout + r.stderr).not.toContain(API_KEY);
    const rounds = (await db.db.execute(sql`SELECT index, status FROM flywheel.rounds WHERE run_id = ${runId} ORDER BY index`)).rows;
    expect(rounds).toEqual([{ index: 0, status: 'completed' }, { index: 1, status: 'completed' }]);
    const [run] = (await db.db.execute(sql`SELECT status FROM flywheel.runs WHERE id = ${runId}`)).rows;
    expect(run).toEqual({ status: 'completed' });
  }, 240_000);
});

describe('a wrong certificate: exit 3, the address and what to check', () => {
  const env = (extra: Record<string, string>) => ({ ...NO_FILE(), FLYWHEEL_HOME: home.dir, DATABASE_URL: db.url, TEMPORAL_NAMESPACE: temporal.namespace, ...extra });

  it('a client (flywheel run) that does not trust the server certificate', async () => {
    const config = file('run.yaml');
    const r = await runFlywheel(['run', config], env({ TEMPORAL_ADDRESS: tlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('rogue-ca.pem') }));
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`cannot reach Temporal at ${tlsAddress} [namespace`);
    expect(r.stderr).toMatch(/TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
  }, 60_000);

  it('a worker without a client certificate, and one whose certificate another CA signed', async () => {
    const clients: Array<Record<string, string>> = [{}, { TEMPORAL_TLS_CLIENT_CERT_PATH: file('intruder.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: file('intruder.key') }];
    for (const client of clients) {
      const r = await runFlywheel(['worker', '--queues', 'generate'], env({ TEMPORAL_ADDRESS: mtlsAddress, TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('server-ca.pem'), ...client }));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`cannot reach Temporal at ${mtlsAddress}`);
      expect(r.stderr).toMatch(/TEMPORAL_TLS_CLIENT_CERT_PATH/);
      expect(r.stderr).not.toMatch(/worker serving/);
    }
  }, 90_000);
});
