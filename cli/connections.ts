/**
 * Where the services are. The environment wins (`DATABASE_URL`, `FLYWHEEL_MODEL_URL`, and for Temporal what the
 * `temporal` CLI reads: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, a profile
 * of `temporal.toml` chosen by `TEMPORAL_PROFILE`); otherwise the stack that `flywheel dev` started and described
 * in `.flywheel/stack.json`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClientConfig, loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import { connectDatabase, DatabaseUnreachableError, type Database } from '../db/client.js';
import { UsageError } from './errors.js';

export interface Connections {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** Base URL of the embedded model server, if one runs. */
  modelUrl: string | null;
  uiUrl: string | null;
}

export interface StackFile extends Connections {
  pid: number;
  startedAt: string;
  /** True when `flywheel dev` runs a worker of its own. */
  worker: boolean;
}

/** The folder for embedded state (Postgres data, Temporal's SQLite file, models): `FLYWHEEL_HOME` or `./.flywheel`. */
export function flywheelHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.FLYWHEEL_HOME ?? '.flywheel');
}

const stackPath = (home: string) => path.join(home, 'stack.json');

export function writeStackFile(home: string, stack: StackFile): void {
  writeFileSync(stackPath(home), JSON.stringify(stack, null, 2) + '\n');
}

export function removeStackFile(home: string, pid = process.pid): void {
  const current = readStackFile(home);
  if (current && current.pid === pid) rmSync(stackPath(home), { force: true });
}

/** The running `flywheel dev` stack, or null when there is none (or its process is gone). */
export function readStackFile(home: string): StackFile | null {
  const file = stackPath(home);
  if (!existsSync(file)) return null;
  try {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as StackFile;
    process.kill(stack.pid, 0);
    return stack;
  } catch {
    return null;
  }
}

export class MissingServiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingServiceError';
  }
}

/**
 * How to dial Temporal: the options both `Connection.connect` (client) and `NativeConnection.connect` (workers)
 * take. `apiKey` is a secret: it goes to the connection and nowhere else (see {@link describeTemporal}).
 */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** `true` for TLS with the system's roots, an object for a CA, a server name or a client certificate (mTLS). */
  tls?: TemporalTls | boolean;
  apiKey?: string;
  /** gRPC headers (`TEMPORAL_GRPC_META_*`, `grpc_meta` of a profile). */
  metadata?: Record<string, string>;
  /** Where the settings came from, for the line `flywheel` prints; absent for targets built in code. */
  origin?: { profile: string | null; configFile: string | null; source: 'environment' | 'profile' | 'stack' };
}

export interface TemporalTls {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

export type ResolvedConnections = Connections & { temporal: TemporalTarget };

/** Connections for commands that talk to running services (run, status, resume, worker). */
export function resolveConnections(env: NodeJS.ProcessEnv = process.env): ResolvedConnections {
  const stack = readStackFile(flywheelHome(env));
  const databaseUrl = env.DATABASE_URL || stack?.databaseUrl;
  const temporal = resolveTemporal(env, stack);
  if (!databaseUrl || !temporal) {
    const missing = [!databaseUrl && 'DATABASE_URL', !temporal && 'TEMPORAL_ADDRESS'].filter(Boolean).join(' and ');
    throw new MissingServiceError(
      `no ${missing}: set ${missing.includes(' and ') ? 'them' : 'it'}, or start the embedded stack in another terminal with \`npx flywheel dev\``,
    );
  }
  return {
    databaseUrl,
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    temporal,
    modelUrl: env.FLYWHEEL_MODEL_URL || stack?.modelUrl || null,
    uiUrl: env.FLYWHEEL_UI_URL || stack?.uiUrl || null,
  };
}

/** The `temporal.toml` that envconfig reads: `TEMPORAL_CONFIG_FILE`, else `$XDG_CONFIG_HOME/temporalio/temporal.toml`. */
export function temporalConfigFile(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.TEMPORAL_CONFIG_FILE) return env.TEMPORAL_CONFIG_FILE;
  if (os.platform() === 'darwin') return env.HOME ? path.join(env.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : null;
  if (os.platform() === 'win32') return env.APPDATA ? path.join(env.APPDATA, 'temporalio', 'temporal.toml') : null;
  const dir = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : env.HOME ? path.join(env.HOME, '.config') : null;
  return dir ? path.join(dir, 'temporalio', 'temporal.toml') : null;
}

/**
 * Temporal as the SDK's environment configuration describes it (the profile of `temporal.toml` named by
 * `TEMPORAL_PROFILE`, else `default`, overridden by `TEMPORAL_*` variables); when that names no address, the
 * `flywheel dev` stack's dev server; null when there is neither. A bad profile or certificate path exits 2.
 */
export function resolveTemporal(env: NodeJS.ProcessEnv = process.env, stack = readStackFile(flywheelHome(env))): TemporalTarget | null {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const file = temporalConfigFile(env);
  const where = file ? `the Temporal config file ${file}` : 'the Temporal configuration';
  let profile: ClientConfigProfile;
  let fileProfiles: string[] = [];
  try {
    fileProfiles = Object.keys(loadClientConfig({ overrideEnvVars: vars }).profiles);
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}${env.TEMPORAL_PROFILE ? ` (TEMPORAL_PROFILE=${env.TEMPORAL_PROFILE}; profiles there: ${fileProfiles.join(', ') || 'none'})` : ''}`);
  }
  const profileName = env.TEMPORAL_PROFILE || 'default';
  const fromFile = fileProfiles.includes(profileName);
  const secured = profile.apiKey !== undefined || (profile.tls !== undefined && profile.tls.disabled !== true);
  if (!profile.address) {
    if (secured) {
      throw new UsageError(
        `Temporal TLS or an API key is configured (${fromFile ? `profile "${profileName}" of ${file}` : 'TEMPORAL_TLS_* / TEMPORAL_API_KEY'}) but no address: set TEMPORAL_ADDRESS or the profile's address`,
      );
    }
    if (!stack) return null;
    return {
      address: stack.temporalAddress,
      namespace: profile.namespace || stack.namespace || 'default',
      origin: { profile: null, configFile: null, source: 'stack' },
    };
  }
  let options: ReturnType<typeof toClientOptions>;
  try {
    options = toClientOptions(profile);
  } catch (err) {
    // A certificate path that does not exist, or cannot be read.
    throw new UsageError(`${where}, TLS settings: ${(err as Error).message}`);
  }
  const tls = options.connectionOptions.tls;
  return {
    address: profile.address,
    namespace: profile.namespace || 'default',
    ...(tls === undefined || tls === null ? {} : { tls: tls as TemporalTls | boolean }),
    ...(profile.apiKey ? { apiKey: profile.apiKey } : {}),
    ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length ? { metadata: profile.grpcMeta } : {}),
    origin: { profile: fromFile ? profileName : null, configFile: fromFile ? file : null, source: env.TEMPORAL_ADDRESS ? 'environment' : 'profile' },
  };
}

/** One line on which Temporal a command uses: address, namespace, where that came from, TLS and key or not. Never the key. */
export function describeTemporal(target: TemporalTarget): string {
  const parts = [`namespace ${target.namespace}`];
  const origin = target.origin;
  if (origin?.source === 'stack') parts.push('the `flywheel dev` stack');
  else if (origin?.profile) parts.push(`profile "${origin.profile}" of ${origin.configFile}${origin.source === 'environment' ? ', address from TEMPORAL_ADDRESS' : ''}`);
  else if (origin) parts.push('from TEMPORAL_* variables');
  const tls = target.tls;
  parts.push(!tls ? 'plaintext' : tls === true ? 'TLS' : tls.clientCertPair ? 'mTLS' : 'TLS');
  if (tls && typeof tls === 'object' && tls.serverRootCACertificate) parts.push('own CA');
  if (target.apiKey) parts.push('API key set');
  return `Temporal at ${target.address} (${parts.join(', ')})`;
}

const announced = new Set<string>();

/** Prints {@link describeTemporal} on stderr once per process, for targets a command resolved (not test-built ones). */
export function announceTemporal(target: TemporalTarget, write: (line: string) => void = (line) => void process.stderr.write(line)): void {
  if (!target.origin) return;
  const line = `flywheel: ${describeTemporal(target)}\n`;
  if (announced.has(line)) return;
  announced.add(line);
  write(line);
}

const WHAT_TO_DO =
  'start the embedded stack in another terminal with `npx flywheel dev`, or point flywheel at running services with ' +
  'DATABASE_URL and TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE; TEMPORAL_TLS_* or a temporal.toml profile for TLS)';

/** Postgres at the resolved URL does not answer: exit 3, with the (redacted) address and what to do. */
export async function openDatabase(url: string, options: { migrate?: boolean; max?: number } = {}): Promise<Database> {
  try {
    return await connectDatabase(url, options);
  } catch (err) {
    if (err instanceof DatabaseUnreachableError) throw new MissingServiceError(`${err.message}\n  ${WHAT_TO_DO}`);
    throw err;
  }
}

const TLS_WHAT_TO_DO =
  'check the TLS settings: the CA that signed the server certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH), the server ' +
  'name it was issued for (TEMPORAL_TLS_SERVER_NAME), and for mTLS a client certificate and key the server trusts ' +
  '(TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH), or the same keys of your temporal.toml profile';

/**
 * Temporal at `address` does not answer, or refuses the handshake: exit 3, with the address and what to do (not a
 * tonic transport error). `target` (when given) says whether TLS was in play, to point at the certificates.
 */
export async function connectTemporal<T>(address: string, connect: () => Promise<T>, target?: TemporalTarget): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
    const how = target ? ` ${describeTemporal(target).replace(/^Temporal at \S+ \((.*)\)$/, '[$1]')}` : '';
    throw new MissingServiceError(`cannot reach Temporal at ${address}${how} (${reason})\n  ${target?.tls ? TLS_WHAT_TO_DO : WHAT_TO_DO}`);
  }
}

/** The connection options of `target`, as both the client's and the workers' `connect` take them. */
export function connectionOptions(target: TemporalTarget) {
  return {
    address: target.address,
    ...(target.tls !== undefined ? { tls: target.tls } : {}),
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    ...(target.metadata ? { metadata: target.metadata } : {}),
  };
}
