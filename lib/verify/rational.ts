/**
 * Exact rational numbers on bigint, so that `3.50` equals `7/2` and `0.33` does not equal `1/3`, without
 * floating-point tolerance. Also the canonical text of a number, used as the majority-voting key.
 */
export interface Rational {
  /** Sign lives here. */
  num: bigint;
  /** Always positive; the fraction is in lowest terms. */
  den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function rational(num: bigint, den: bigint = 1n): Rational {
  if (den === 0n) throw new RangeError('rational with a zero denominator');
  const sign = den < 0n ? -1n : 1n;
  const g = gcd(num, den) || 1n;
  return { num: (sign * num) / g, den: (sign * den) / g };
}

export const ratAdd = (a: Rational, b: Rational): Rational => rational(a.num * b.den + b.num * a.den, a.den * b.den);
export const ratSub = (a: Rational, b: Rational): Rational => rational(a.num * b.den - b.num * a.den, a.den * b.den);
export const ratMul = (a: Rational, b: Rational): Rational => rational(a.num * b.num, a.den * b.den);
/** Null for a division by zero. */
export const ratDiv = (a: Rational, b: Rational): Rational | null => (b.num === 0n ? null : rational(a.num * b.den, a.den * b.num));
export const ratEquals = (a: Rational, b: Rational): boolean => a.num === b.num && a.den === b.den;
export const ratToNumber = (r: Rational): number => Number(r.num) / Number(r.den);

/** Past this many bits, an exact power is not worth computing (and a hostile answer could make it enormous). */
const MAX_POWER_BITS = 20_000;

/** An integer power; null when the result would be huge or divides by zero. */
export function ratPow(base: Rational, exponent: bigint): Rational | null {
  if (exponent > 256n || exponent < -256n) return null;
  const bits = Math.max(base.num.toString(16).length, base.den.toString(16).length) * 4;
  if (bits * Math.abs(Number(exponent)) > MAX_POWER_BITS) return null;
  if (exponent < 0n) {
    if (base.num === 0n) return null;
    return ratPow(rational(base.den, base.num), -exponent);
  }
  return rational(base.num ** exponent, base.den ** exponent);
}

function isqrt(n: bigint): bigint | null {
  if (n < 0n) return null;
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x * x === n ? x : null;
}

/** The exact square root when numerator and denominator are perfect squares, else null. */
export function ratSqrt(r: Rational): Rational | null {
  const n = isqrt(r.num);
  const d = isqrt(r.den);
  return n === null || d === null ? null : rational(n, d);
}

/**
 * Parses a plain decimal: `-12`, `3.50`, `.5`, `1.5e-3`. Null for anything else (no separators, no fractions).
 */
export function parseDecimal(text: string): Rational | null {
  const m = text.trim().match(/^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/);
  if (!m || (m[2] === '' && !m[3])) return null;
  const digits = (m[2] || '0') + (m[3] ?? '');
  let r = rational(BigInt(digits), 10n ** BigInt((m[3] ?? '').length));
  if (m[4]) {
    const scaled = ratPow(rational(10n), BigInt(m[4]));
    if (!scaled) return null;
    r = ratMul(r, scaled);
  }
  return m[1] === '-' ? rational(-r.num, r.den) : r;
}

/**
 * Canonical text: an integer (`5`), a terminating decimal (`0.75`, `-3.5`), or a reduced fraction (`1/3`).
 *
 * @example
 * rationalKey(rational(3n, 4n)) === '0.75'; rationalKey(rational(2n, 6n)) === '1/3'
 */
export function rationalKey(r: Rational): string {
  if (r.den === 1n) return r.num.toString();
  let d = r.den;
  let twos = 0;
  let fives = 0;
  while (d % 2n === 0n) [d, twos] = [d / 2n, twos + 1];
  while (d % 5n === 0n) [d, fives] = [d / 5n, fives + 1];
  if (d !== 1n) return `${r.num}/${r.den}`;
  const places = Math.max(twos, fives);
  const scaled = (r.num * 10n ** BigInt(places)) / r.den;
  const negative = scaled < 0n;
  const abs = (negative ? -scaled : scaled).toString().padStart(places + 1, '0');
  const text = `${abs.slice(0, abs.length - places)}.${abs.slice(abs.length - places)}`.replace(/\.?0+$/, '');
  return negative ? `-${text}` : text;
}
