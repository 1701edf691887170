/**
 * Numbers as people write them in prose, read the same way by the `numeric` verifier and by the math verifier's
 * `expression` extraction: thousands separators (`1,000`, `1 000`), a decimal comma where it cannot be a thousands
 * separator (`2,74`, `1000,99`, `0,111`), currency before or after (`$1,000.99`, `2,74 €`), a percent after
 * (`28%`, `28 percent`, `28 pct`), fractions (`3/4`) and mixed numbers (`4 4/9` is 40/9; `11 6/6` and `4 0/0` are
 * not numbers at all). A minus is a sign only where it cannot be a minus between two terms (`5-3` holds 5 and 3,
 * `x = -3` holds -3).
 */

/** One number in the text. */
export interface PlainNumber {
  /** Where it starts (its sign or currency included) and ends (its percent included). */
  start: number;
  end: number;
  /** As written, e.g. `-1 000 4/9`. */
  written: string;
  /** Standard form: `-1000.99`, `3/4`, `-9004/9` (a mixed number as one fraction); null when it is no number. */
  value: string | null;
  /** A percent sign or word follows it. */
  percent: boolean;
  /** Written as a whole number (no decimals, no fraction), so it may start a mixed number. */
  whole: boolean;
  /** Written with a fraction bar (`3/4`), so it may end a mixed number. */
  fraction: boolean;
}

// An unsigned number: thousands with commas, thousands with spaces, a decimal point or comma (a comma only when no
// further `,digit` follows: `1,5,6` is a list of three), a whole number, a bare decimal.
const UNSIGNED = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d{1,3}(?: \d{3})+(?![\d.,])|\d+\.\d+(?!\d|[.,]\d)|(?<!\d,)\d+,\d+(?!\d|[.,]\d)|\d+(?!\d|\.\d)|\.\d+`;
const NUMBER = new RegExp(String.raw`(?<![A-Za-z0-9._^])([-−+]\s?)?([$€£]\s?)?([-−])?(${UNSIGNED})(?:[ \t]*\/[ \t]*(\d+))?(?!\d)`, 'g');
const PERCENT = /^[ \t]?(?:\\?%|percentage|percent|pct)(?![a-zA-Z])/;

/** A number as written (`1,000.99`, `1000,99`, `0,111`, `1 000`) in standard form (`1000.99`), or null. */
export function plainNumber(written: string): string | null {
  let s = written.replace(/−/g, '-').replace(/^\s*[$€£]\s*/, '').trim();
  const sign = s.startsWith('-') ? '-' : '';
  s = s.replace(/^[-+]\s*[$€£]?\s*/, '');
  if (/^\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s) && !/^0,/.test(s)) s = s.replace(/,/g, '');
  else if (/^\d{1,3}(?: \d{3})+$/.test(s)) s = s.replace(/ /g, '');
  else if (/^\d+,\d+$/.test(s)) s = s.replace(',', '.');
  s = s.replace(/\s*\/\s*/, '/');
  return /^(?:\d+(?:\.\d+)?|\.\d+)(?:\/\d+)?$/.test(s) ? sign + s : null;
}

/** The character before `at`, spaces skipped. */
function before(text: string, at: number): string {
  let i = at - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return i >= 0 ? text[i]! : '';
}

function numbersOf(text: string): PlainNumber[] {
  const found: PlainNumber[] = [];
  for (const m of text.matchAll(NUMBER)) {
    let start = m.index;
    let sign = m[1] ?? '';
    // `5 - 3`, `x-3`, `(2)-1`: a minus between terms is an operation, not the sign of what follows (`so -3` has one).
    const previous = before(text, start);
    if (sign && (/[\d)\]}]/.test(previous) || (/\w/.test(previous) && previous === text[start - 1]))) {
      start += sign.length;
      sign = '';
    }
    const negative = (sign.trim() === '-' || sign.trim() === '−') !== (m[3] !== undefined);
    const unsigned = plainNumber(m[4]!);
    const value = unsigned === null ? null : `${negative ? '-' : ''}${unsigned}${m[5] !== undefined ? `/${m[5]}` : ''}`;
    let end = m.index + m[0].length;
    const percent = text.slice(end).match(PERCENT);
    if (percent) end += percent[0].length;
    found.push({
      start,
      end,
      written: text.slice(start, end),
      value,
      percent: percent !== null,
      whole: m[5] === undefined && /^\d{1,3}(?:[ ,]\d{3})*$|^\d+$/.test(m[4]!),
      fraction: m[5] !== undefined && /^\d+$/.test(m[4]!),
    });
  }
  return found;
}

/** `whole numerator/denominator` as one fraction, or null when it is no proper mixed number (`11 6/6`, `4 4/0`). */
function mixedValue(whole: string, fraction: string): string | null {
  const negative = whole.startsWith('-');
  const [num, den] = fraction.split('/').map((part) => BigInt(part)) as [bigint, bigint];
  if (den === 0n || num >= den) return null;
  const value = BigInt(negative ? whole.slice(1) : whole) * den + num;
  return `${negative ? '-' : ''}${value}/${den}`;
}

/**
 * Every number of the text, in order; a whole number and an unsigned fraction after it on the same line, with only
 * spaces between, are one mixed number.
 *
 * @example
 * readNumbers('so -4 4/9 cups, $1,000.99 and 28%').map((n) => n.value) // ['-40/9', '1000.99', '28']
 */
export function readNumbers(text: string): PlainNumber[] {
  const numbers = numbersOf(text);
  const out: PlainNumber[] = [];
  for (let i = 0; i < numbers.length; i++) {
    const n = numbers[i]!;
    const next = numbers[i + 1];
    const gap = next ? text.slice(n.end, next.start) : '';
    const mixed =
      next && n.whole && !n.percent && next.fraction && /^[ \t]+$/.test(gap) && !/^[-−+$€£]/.test(next.written) && !/\/\s*$/.test(text.slice(0, n.start));
    if (mixed && n.value !== null && next.value !== null) {
      out.push({ ...next, start: n.start, written: text.slice(n.start, next.end), value: mixedValue(n.value, next.value), whole: false, fraction: true });
      i++;
    } else out.push(n);
  }
  return out;
}

/** A standard-form value with its percent applied: `28` → `28/100`, `40/9` → `40/900`. */
export function percentValue(value: string): string {
  const [num, den] = value.split('/');
  const digits = num!.replace(/^-/, '').split('.')[1]?.length ?? 0;
  const scaledNum = BigInt(num!.replace('.', ''));
  const scaledDen = BigInt(den ?? '1') * 10n ** BigInt(digits) * 100n;
  return `${scaledNum}/${scaledDen}`;
}
