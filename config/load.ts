/**
 * Loading a run config from YAML or JSON (JSON is YAML, so one parser gives both line numbers), with `${VAR}` and
 * `${VAR:-default}` taken from the environment in string values. Every problem is reported at once, by its path
 * and its line in the file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { runConfigSchema, type RunConfig } from './schema.js';

export interface ConfigIssue {
  /** Dotted path, e.g. `generate.samplesPerProblem`; empty for the file as a whole. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(formatIssues(file, issues));
    this.name = 'ConfigError';
  }
}

function formatIssues(file: string, issues: ConfigIssue[]): string {
  if (issues.length === 1 && !issues[0]!.path && !issues[0]!.line) return `${file}: ${issues[0]!.message}`;
  const head = `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'} in the run config`;
  const lines = issues.map((i) => {
    const where = i.line ? `${file}:${i.line}${i.column ? `:${i.column}` : ''}` : file;
    return `  ${i.path || '(config)'}: ${i.message}  [${where}]`;
  });
  return [head, ...lines].join('\n');
}

export interface LoadedConfig {
  config: RunConfig;
  /** Absolute path of the file, to resolve the paths inside it. */
  file: string;
  dir: string;
}

/** Reads, interpolates and validates a run config file. Throws {@link ConfigError} listing every problem. */
export function loadRunConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: unreadable(abs, err as NodeJS.ErrnoException) }]);
  }
  const config = parseRunConfig(text, file, env);
  return { config, file: abs, dir: path.dirname(abs) };
}

/** Why a config file cannot be read, in words (not a raw ENOENT). */
function unreadable(abs: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return `no such file: ${abs} (check the path; config/examples/ has run configs to start from)`;
    case 'EISDIR':
      return `${abs} is a directory, not a run config file`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied reading ${abs}`;
    default:
      return `cannot read ${abs}: ${err.message}`;
  }
}

/** Validates config text (YAML or JSON); `file` only names it in errors. */
export function parseRunConfig(text: string, file = '<config>', env: NodeJS.ProcessEnv = process.env): RunConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const syntax = doc.errors.map((e) => {
    const pos = e.linePos?.[0];
    return { path: '', message: e.message.split('\n')[0] ?? e.message, line: pos?.line, column: pos?.col };
  });
  if (syntax.length) throw new ConfigError(file, syntax);

  const issues: ConfigIssue[] = [];
  interpolate(doc, doc.contents, [], env, lineCounter, issues);
  if (issues.length) throw new ConfigError(file, issues);

  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', message: 'the config must be a mapping of keys to values' }]);
  }
  const parsed = runConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const schemaIssues = parsed.error.issues.flatMap((issue) => toIssues(issue, doc, lineCounter));
  throw new ConfigError(file, schemaIssues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
}

function toIssues(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigIssue[] {
  // Unknown keys: one issue per key, each at the key's own line, with a hint for the one that matters most.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const at = [...issue.path, key];
      const hint = /api_?key|secret|token|password/i.test(key)
        ? 'secrets do not belong in the config: put the key in an environment variable and name it in model.apiKeyEnv'
        : 'unknown key (check the spelling against the config reference in README.md)';
      return { path: at.join('.'), message: hint, ...position(doc, at, lines, true) };
    });
  }
  return [{ path: issue.path.join('.'), message: issue.message, ...position(doc, issue.path, lines, false) }];
}

/** Line and column of the value at `at`, or of the deepest ancestor that exists in the file. */
function position(doc: Document, at: PropertyKey[], lines: LineCounter, key: boolean) {
  for (let depth = at.length; depth >= 0; depth--) {
    const prefix = at.slice(0, depth) as Array<string | number>;
    let node: Node | null = null;
    if (key && depth === at.length && depth > 0) {
      const parent = doc.getIn(prefix.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === prefix[prefix.length - 1]);
        node = (pair?.key as Node | undefined) ?? null;
      }
    } else {
      node = (prefix.length ? doc.getIn(prefix, true) : doc.contents) as Node | null;
    }
    if (node && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolate(
  doc: Document,
  node: unknown,
  at: Array<string | number>,
  env: NodeJS.ProcessEnv,
  lines: LineCounter,
  issues: ConfigIssue[],
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      interpolate(doc, pair.value, [...at, key], env, lines, issues);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => interpolate(doc, item, [...at, i], env, lines, issues));
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
    const original = node.value;
    const value = original.replace(VAR, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      const pos = node.range ? lines.linePos(node.range[0]) : undefined;
      issues.push({
        path: at.join('.'),
        message: `environment variable ${name} is not set (write \${${name}:-default} for a default)`,
        line: pos?.line,
        column: pos?.col,
      });
      return '';
    });
    // A whole-value number stays a number: `${ROUNDS:-5}` configures an integer field.
    node.value = /^\$\{[^}]+\}$/.test(original) && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
}
