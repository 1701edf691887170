// infra: the embedded services `flywheel demo` / `flywheel dev` start when no DATABASE_URL / TEMPORAL_ADDRESS is set.
export { type Log, stderrLog } from './log.js';
export { freePort, isPortFree, portOrFree } from './ports.js';
export { FLYWHEEL_SEARCH_ATTRIBUTES, type SearchAttributeKind } from './search-attributes.js';
export {
  TEMPORAL_CLI_MODULE,
  TEMPORAL_CLI_VERSION,
  cachedTemporalCliPath,
  ensureTemporalCli,
  flywheelBinDir,
  locateTemporalCli,
} from './temporal-cli.js';
export {
  type TemporalDevServer,
  type TemporalDevServerOptions,
  ensureSearchAttributes,
  listCustomSearchAttributes,
  startTemporalDevServer,
} from './temporal-server.js';
export {
  type PostgresHandle,
  type PostgresOptions,
  databaseUrl,
  dropDatabase,
  ensureDatabase,
  redactUrl,
  startPostgres,
} from './postgres.js';
