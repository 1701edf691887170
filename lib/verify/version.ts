/**
 * A verifier's version as stored with each verdict: its code version, plus a short fingerprint of the options
 * that change verdicts, so that verdicts given under other options (a case-insensitive `exact`, another time
 * limit, another judge rubric) are never mixed with these.
 */
import { createHash } from 'node:crypto';

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, stable(v)]),
    );
  }
  return value;
}

/**
 * @example
 * versionWithOptions('1', {}) === '1'
 * versionWithOptions('1', { caseSensitive: false }) // '1+3f2a9c01' (the same options give the same version)
 */
export function versionWithOptions(base: string, options: Record<string, unknown>): string {
  const normalised = stable(options) as Record<string, unknown>;
  if (Object.keys(normalised).length === 0) return base;
  return `${base}+${createHash('sha256').update(JSON.stringify(normalised)).digest('hex').slice(0, 8)}`;
}
