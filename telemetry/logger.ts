/**
 * Structured logs (pino): JSON lines for a log collector, or one readable line per record on a terminal. Keys are
 * redacted by the logger itself, a second line of defence behind code that never logs them: fields named like
 * secrets are censored, and the values of this process's secret-looking environment variables are scrubbed from
 * every line, whatever field or message they hide in.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';
export type LogFormat = 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];

export const REDACTED = '[redacted]';

/** Field paths censored wherever a record carries them (pino `redact`). */
export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'api_key',
  '*.api_key',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
];

const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;
/** Shorter values are too likely to be ordinary words ("true", a port) to scrub blindly. */
const MIN_SECRET_LENGTH = 8;

/** Values of environment variables whose names say they hold a secret (`OPENAI_API_KEY`, `HF_TOKEN`, ...). */
export function secretValues(env: NodeJS.ProcessEnv = process.env, names: string[] = []): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value || value.length < MIN_SECRET_LENGTH) continue;
    if (SECRET_NAME.test(name) || names.includes(name)) values.add(value);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of a secret value (as text, JSON-escaped, base64) and URL passwords in `line`. */
export function scrubSecrets(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) {
    for (const form of secretForms(secret)) if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  // postgres://user:password@host: a password in a URL, whichever variable it came from.
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/\s"@]+:)[^@\s"/]+@/gi, '$1***@');
}

function secretForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [...new Set([secret, json, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')])];
}

export interface CreateLoggerOptions {
  format?: LogFormat;
  level?: string;
  /** Where lines go (default: stderr). */
  destination?: { write(line: string): unknown };
  /** Extra secret values to scrub (default: {@link secretValues} of the environment). */
  secrets?: string[];
  env?: NodeJS.ProcessEnv;
  base?: Record<string, unknown>;
}

/** The format when none is asked for: readable on a terminal, JSON for anything else (a file, a pipe, a collector). */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const asked = env.FLYWHEEL_LOG_FORMAT;
  if (asked === 'json' || asked === 'pretty') return asked;
  return stream.isTTY ? 'pretty' : 'json';
}

/**
 * A pino logger with redaction and secret scrubbing.
 *
 * @example
 * const log = createLogger({ format: 'json' });
 * log.info({ runId, round: 2, stage: 'generate' }, 'shard 3/8 written');
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const secrets = [...new Set([...(options.secrets ?? []), ...secretValues(env)])].sort((a, b) => b.length - a.length);
  const format = options.format ?? defaultLogFormat(process.stderr, env);
  const target = options.destination ?? process.stderr;
  const destination: DestinationStream = {
    write(line: string) {
      target.write(format === 'pretty' ? prettyLine(line) : line);
    },
  };
  const config: LoggerOptions = {
    level: options.level ?? env.FLYWHEEL_LOG_LEVEL ?? 'info',
    base: options.base ?? { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: (line) => scrubSecrets(line, secrets) },
  };
  return pino(config, destination);
}

const CONTEXT_KEYS = ['runId', 'round', 'stage', 'activity', 'attempt'] as const;
const QUIET_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', ...CONTEXT_KEYS]);

/** One JSON record as `12:04:05.123 INFO  run r1 · round 2 · generate · message key=value`. */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const level = String(record.level ?? 'info').toUpperCase().padEnd(5);
  const context = [
    record.runId !== undefined ? `run ${String(record.runId)}` : null,
    record.round !== undefined ? `round ${String(record.round)}` : null,
    record.stage !== undefined ? String(record.stage) : null,
    record.activity !== undefined ? `${String(record.activity)}${record.attempt !== undefined && Number(record.attempt) > 1 ? ` (attempt ${String(record.attempt)})` : ''}` : null,
  ].filter(Boolean);
  const rest = Object.entries(record)
    .filter(([k]) => !QUIET_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${[time, level, context.length ? `${context.join(' · ')} ·` : null, String(record.msg ?? ''), ...rest].filter(Boolean).join(' ')}\n`;
}

let root: Logger | null = null;

/** The process's logger (configured once by the CLI from `--log-format`; created with defaults otherwise). */
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}

export function configureLogging(options: CreateLoggerOptions): Logger {
  root = createLogger(options);
  return root;
}
