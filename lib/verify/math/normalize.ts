/**
 * String normalisation of a final math answer, before any parsing: what differs only in typesetting becomes the
 * same text. Decisions (documented, tested):
 * - `%` is dropped like a unit: `50\%` == `50` (and so `50\%` != `0.5`);
 * - units in `\text{}` / `\mathrm{}` after a value, and plain unit words after a number, are dropped;
 * - degrees (`^\circ`) are dropped: `90^\circ` == `90`;
 * - `x \in [1, 2]` keeps only the set (relations such as `x = 5` are compared in relations.ts);
 * - `and` / `or` / `;` between answers separate list items like commas;
 * - a whole-answer mixed number `3\frac{1}{2}` reads as 7/2;
 * - a whole answer `1,000` reads as 1000 (commas elsewhere separate elements).
 */
import { braceGroup } from './extract.js';

/** Replaces `\cmd{arg}` (braces nest) by what `replace` makes of arg; the command name is a regex source. */
export function replaceCommandArg(text: string, command: string, replace: (arg: string) => string): string {
  const re = new RegExp(`\\\\(?:${command})(?![a-zA-Z])\\s*`, 'g');
  let out = '';
  let from = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const group = braceGroup(text, m.index + m[0].length);
    if (!group) continue;
    out += text.slice(from, m.index) + replace(group.content);
    from = group.end;
    re.lastIndex = group.end;
  }
  return out + text.slice(from);
}

const TEXT_COMMANDS = 'text|textrm|textup|textnormal|mbox|mathrm|textsf|mathsf';
const STYLE_COMMANDS = 'textbf|textit|mathbf|mathit|boldsymbol|bm|mathbb|mathcal|operatorname|emph|hbox|boxed|fbox';

/** `\text{...}` groups: units (dropped) when a value remains without them, the answer itself (kept) otherwise. */
function handleText(s: string): string {
  const withoutUnits = replaceCommandArg(s, TEXT_COMMANDS, () => '\u0000')
    .replace(/\u0000(\^\{?[23]\}?)?/g, '')
    .trim();
  if (/[0-9a-zA-Z]/.test(withoutUnits.replace(/\\[a-zA-Z]+/g, (cmd) => (/^\\(pi|infty|sqrt|frac)$/.test(cmd) ? '1' : '')))) {
    return withoutUnits;
  }
  return replaceCommandArg(s, TEXT_COMMANDS, (arg) => arg);
}

/**
 * Whitespace goes, except where it keeps a command apart from the letter after it (`\pi r`), or two numbers
 * apart (`3 4` is not `34`, and not a product either: the comparison treats it as text).
 */
function removeSpaces(s: string): string {
  return s.replace(/\s+/g, (space, offset: number, whole: string) => {
    const before = whole.slice(0, offset);
    const after = whole.slice(offset + space.length);
    if (/\\[a-zA-Z]+$/.test(before) && /^[a-zA-Z]/.test(after)) return ' ';
    return /\d$/.test(before) && /^\d/.test(after) ? ' ' : '';
  });
}

/** Drops one pair of braces around the whole text. */
function unwrapBraces(s: string): string {
  while (s.startsWith('{')) {
    const group = braceGroup(s, 0);
    if (!group || group.end !== s.length) break;
    s = group.content;
  }
  return s;
}

/**
 * @example
 * normalizeMathAnswer('\\left( \\dfrac12, 3 \\right)') === '(\\frac{1}{2},3)'
 * normalizeMathAnswer('x = 5\\text{ cm}') === 'x=5'
 */
export function normalizeMathAnswer(raw: string): string {
  let s = raw.trim();
  s = s
    .replace(/(?<!\\)\\\\(?=[a-zA-Z])(?!end\{|begin\{)/g, '\\') // `\\frac` from a doubly escaped string is `\frac`
    .replace(/,\\!\s*/g, ',')
    .replace(/(\d)\s*\{\s*,\s*\}\s*(?=\d)/g, '$1{,}') // 14 {, }916: a thousands separator however spaced
    .replace(/\{\s*,\s*\}/g, '{,}')
    .replace(/!=|\\ne(?![a-zA-Z])/g, '\\neq ')
    .replace(/>=|≥/g, '\\geq ')
    .replace(/<=|≤/g, '\\leq ')
    .replace(/\\lt(?![a-zA-Z])/g, '<')
    .replace(/\\gt(?![a-zA-Z])/g, '>')
    .replace(/−|–/g, '-')
    .replace(/×/g, '\\times ')
    .replace(/·/g, '\\cdot ')
    .replace(/π/g, '\\pi ')
    .replace(/∞/g, '\\infty ')
    .replace(/√/g, '\\sqrt')
    .replace(/\\\$/g, '')
    .replace(/\$/g, '')
    .replace(/^\\[([]|\\[)\]]$/g, '')
    .replace(/\\(?:displaystyle|textstyle|scriptstyle)(?![a-zA-Z])/g, '')
    .replace(/\\(?:left|right)\./g, '')
    .replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])/g, '')
    .replace(/(\d)\\,(?=\d{3}(?!\d))/g, '$1') // 1\,000: a thin space between thousands
    .replace(/(?<!\\)\\[,!;: ]|\\q?quad(?![a-zA-Z])|~/g, ' ')
    .replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac')
    .replace(/\\(?:lvert|rvert|vert|mid)(?![a-zA-Z])|\\\|/g, '|')
    .replace(/\\(?:le|leqslant)(?![a-zA-Z])/g, '\\leq')
    .replace(/\\(?:ge|geqslant)(?![a-zA-Z])/g, '\\geq')
    .replace(/\\(?:emptyset|varnothing)(?![a-zA-Z])/g, '\\{\\}')
    .replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ(?![a-zA-Z])|°|\\degree(?![a-zA-Z])/g, '')
    .replace(/\\%|%/g, '');
  s = replaceCommandArg(s, STYLE_COMMANDS, (arg) => arg);
  s = s.replace(/\\text\s*\{\s*(?:and|or)\s*\}|\s+(?:and|or)\s+|(?<=[\d)}])(?:and|or)(?=[\d(a-zA-Z\\-])|;/g, ',');
  s = handleText(s);
  // Plain unit words after a number: "12 inches", "5 square units".
  s = s.replace(/^(.*[\d})])\s+[a-zA-Z]{2,}\.?(?:\s+[a-zA-Z]+\.?)*$/, '$1');
  // LaTeX shorthands: \frac12, \frac1{x}, \frac{x}2, \sqrt2 mean one-character arguments.
  s = s
    .replace(/\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])/g, '\\frac{$1}{$2}')
    .replace(/\\frac\s*([0-9a-zA-Z])\s*\{/g, '\\frac{$1}{')
    .replace(/\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])/g, '\\frac$1{$2}')
    .replace(/\\sqrt\s*([0-9a-zA-Z])/g, '\\sqrt{$1}');
  const thousands = /^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s.trim().replace(/\{,\}/g, ','));
  s = removeSpaces(s);
  s = s.replace(/\{,\}/g, ',').replace(/\{\}/g, '');
  s = unwrapBraces(s);
  if (!/\.\.$/.test(s)) s = s.replace(/[.,]+$/, '');
  // x \in [1, 2]: the set, when the left is one variable.
  s = s.replace(/^[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?'*\\in(?![a-zA-Z])(?!.*=)/, '');
  if (thousands) s = s.replace(/,/g, '');
  const mixed = s.match(/^(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$/);
  if (mixed) s = `${mixed[1]}\\frac{${BigInt(mixed[2]!) * BigInt(mixed[4]!) + BigInt(mixed[3]!)}}{${mixed[4]}}`;
  s = s.replace(/(^|[^\d])\.(\d)/g, (_m, before: string, digit: string) => `${before}0.${digit}`);
  const choice = s.match(/^\(([A-Ea-e])\)$/);
  if (choice) s = choice[1]!.toUpperCase();
  return s;
}
