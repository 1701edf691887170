/**
 * From a model's text to a program and a test plan: the program is the last fenced code block (in the task's
 * language when one is tagged so), and the reference says how to test it.
 */
import { createHash } from 'node:crypto';
import type { CodeLanguage } from './languages.js';

const TAGS: Record<CodeLanguage, string[]> = {
  python: ['python', 'py', 'python3', 'py3'],
  javascript: ['javascript', 'js', 'node', 'nodejs', 'mjs', 'cjs', 'jsx'],
};

/**
 * The program in a model's output: the last fenced block tagged with the language, else the last untagged one,
 * else the last fenced block of any tag, else the whole text. A final fence left open (a cut-off generation)
 * counts as a block up to the end.
 *
 * @example
 * extractProgram('Here:\n```python\nprint(1)\n```\nDone.', 'python') === 'print(1)\n'
 */
export function extractProgram(text: string, language: CodeLanguage): string {
  const blocks: Array<{ tag: string; code: string }> = [];
  const fence = /```[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)```/g;
  let last = 0;
  for (const m of text.matchAll(fence)) {
    blocks.push({ tag: m[1]!.toLowerCase(), code: m[2]! });
    last = m.index + m[0].length;
  }
  const open = text.slice(last).match(/```[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*)$/);
  if (open) blocks.push({ tag: open[1]!.toLowerCase(), code: open[2]! });
  const pick =
    blocks.findLast((b) => TAGS[language].includes(b.tag)) ?? blocks.findLast((b) => b.tag === '') ?? blocks[blocks.length - 1];
  return pick ? pick.code : text.trim() + '\n';
}

/** The voting key of a program: a hash of its text, ignoring trailing spaces and blank lines at either end. */
export function programKey(program: string): string {
  const normalised = program
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
  return createHash('sha256').update(normalised).digest('hex').slice(0, 16);
}

export interface IoCase {
  input: string;
  output: string;
}

export type TestPlan =
  /** Code run after the program, in its namespace: each entry is one test; an exception fails it. */
  | { kind: 'assertions'; tests: string[]; entrypoint?: string }
  /** The program run once per case with `input` on stdin; passes when stdout matches `output` token by token. */
  | { kind: 'io'; cases: IoCase[] };

export interface CodeReference {
  language: CodeLanguage;
  plan: TestPlan;
}

const LANGUAGES: Record<string, CodeLanguage> = {
  python: 'python', python3: 'python', py: 'python',
  javascript: 'javascript', js: 'javascript', node: 'javascript', nodejs: 'javascript',
};

/**
 * Reads a problem's reference: `{language, tests, entrypoint?}` where tests is test code (a string, or a list of
 * strings, each one test) or stdin/stdout cases `[{input, output}]`. HumanEval's field names (`test`,
 * `entry_point`) are accepted too; with an entrypoint, test code that defines `check` gets `check(<entrypoint>)`
 * appended, as HumanEval intends. Throws, saying what is wrong, on a reference that cannot be used.
 */
export function parseCodeReference(reference: unknown, defaultLanguage?: CodeLanguage): CodeReference {
  const ref = (typeof reference === 'object' && reference !== null ? reference : {}) as Record<string, unknown>;
  const languageName = typeof ref.language === 'string' ? ref.language.toLowerCase() : undefined;
  const language = languageName ? LANGUAGES[languageName] : defaultLanguage;
  if (!language) {
    throw new Error(
      `code verifier: the reference's language is ${languageName ? `"${languageName}", not one of python, javascript` : 'missing'}; ` +
        'set reference.language or the verifier spec\'s `language`',
    );
  }
  const tests = ref.tests ?? ref.test;
  const entrypoint = ref.entrypoint ?? ref.entry_point;
  if (entrypoint !== undefined && (typeof entrypoint !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(entrypoint))) {
    throw new Error(`code verifier: reference.entrypoint must be an identifier, got ${JSON.stringify(entrypoint)}`);
  }
  if (typeof tests === 'string') {
    const definesCheck = language === 'python' ? /^def check\s*\(/m.test(tests) : /\bfunction\s+check\s*\(|\b(const|let|var)\s+check\s*=/.test(tests);
    const call = entrypoint && definesCheck ? `\ncheck(${entrypoint})\n` : '';
    return { language, plan: { kind: 'assertions', tests: [tests + call], entrypoint } };
  }
  if (Array.isArray(tests) && tests.length > 0 && tests.every((t) => typeof t === 'string')) {
    return { language, plan: { kind: 'assertions', tests: tests as string[], entrypoint } };
  }
  if (Array.isArray(tests) && tests.length > 0 && tests.every((t) => typeof t === 'object' && t !== null && 'input' in t && 'output' in t)) {
    const cases = (tests as Array<{ input: unknown; output: unknown }>).map((t) => ({ input: String(t.input), output: String(t.output) }));
    return { language, plan: { kind: 'io', cases } };
  }
  throw new Error(
    'code verifier: reference.tests must be test code (a string or a non-empty list of strings) or a non-empty list of {input, output} cases',
  );
}

/** Whether two program outputs match: the same whitespace-separated tokens (line breaks and spacing ignored). */
export function outputsMatch(actual: string, expected: string): boolean {
  const a = actual.trim().split(/\s+/);
  const b = expected.trim().split(/\s+/);
  return a.length === b.length && a.every((token, i) => token === b[i]);
}
