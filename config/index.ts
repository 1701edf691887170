export { runConfigSchema, type RunConfig, type RunConfigInput } from './schema.js';
export { loadRunConfig, parseRunConfig, ConfigError, type ConfigIssue, type LoadedConfig } from './load.js';
