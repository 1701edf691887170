/**
 * The code verifier end to end, through the real sandbox: passing and failing programs in Python and JavaScript,
 * and programs that loop, crash, blow up or try to game the tests, each a verdict and never an exception.
 */
import { describe, expect, it } from 'vitest';
import { createCodeVerifier, probeSandbox, SandboxUnavailableError } from '../../lib/verify/index.js';

const support = await probeSandbox();
const verifier = createCodeVerifier({ timeoutMs: 3000, memoryMb: 256 });
const verify = (reference: unknown, text: string, signal?: AbortSignal) => verifier.verify({ prompt: 'write it', reference, text }, { signal });

const addTests = { language: 'python', tests: ['assert add(1, 2) == 3', 'assert add(-1, 1) == 0', 'assert add(10, 5) == 15'] };
const fenced = (language: string, code: string) => `Here is my solution.\n\n\`\`\`${language}\n${code}\n\`\`\`\n`;

describe.skipIf(support.available)('code verifier without a sandbox', () => {
  it('refuses to run the program', async () => {
    await expect(verify(addTests, fenced('python', 'def add(a, b):\n    return a + b'))).rejects.toBeInstanceOf(SandboxUnavailableError);
  });
});

describe.runIf(support.available)('code verifier in the sandbox', () => {
  it('passes a correct Python program and scores a partly wrong one by the fraction passed', async () => {
    const right = await verify(addTests, fenced('python', 'def add(a, b):\n    return a + b'));
    expect(right).toMatchObject({ score: 1, correct: true, detail: '3/3 tests passed' });
    expect(right.answer).toMatch(/^[0-9a-f]{16}$/);
    const partly = await verify(addTests, fenced('python', 'def add(a, b):\n    return abs(a) + b'));
    expect(partly).toMatchObject({ score: 2 / 3, correct: false });
    expect(partly.detail).toBe('2/3 tests passed; test 2 failed: AssertionError (at: assert add(-1, 1) == 0)');
  });

  it('runs HumanEval-style check(candidate) tests', async () => {
    const reference = { language: 'python', test: 'def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n', entry_point: 'total' };
    expect((await verify(reference, fenced('python', 'def total(xs):\n    return sum(xs)'))).correct).toBe(true);
    const missing = await verify(reference, fenced('python', 'def summe(xs):\n    return sum(xs)'));
    expect(missing.correct).toBe(false);
    expect(missing.detail).toMatch(/defines no total/);
  });

  it('passes and fails JavaScript programs', async () => {
    const reference = { language: 'javascript', tests: ["const assert = require('node:assert');\nassert.deepStrictEqual(rev([1, 2]), [2, 1]);", 'if (rev([]).length !== 0) throw new Error("empty")'] };
    expect(await verify(reference, fenced('js', 'function rev(xs) { return [...xs].reverse(); }'))).toMatchObject({ score: 1, correct: true });
    const wrong = await verify(reference, fenced('javascript', 'const rev = (xs) => xs;'));
    expect(wrong).toMatchObject({ score: 0.5, correct: false });
    expect(wrong.detail).toMatch(/test 1 failed: AssertionError/);
  });

  it('runs stdin/stdout cases in both languages', async () => {
    const cases = [
      { input: '1 2\n', output: '3\n' },
      { input: '10 -4', output: '6' },
    ];
    expect(await verify({ language: 'python', tests: cases }, fenced('python', 'a, b = map(int, input().split())\nprint(a + b)'))).toMatchObject({ score: 1, correct: true });
    const js = "const [a, b] = require('node:fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);";
    expect(await verify({ language: 'javascript', tests: cases }, fenced('js', js))).toMatchObject({ score: 1, correct: true });
    const esm = "import { readFileSync } from 'node:fs';\nconst [a, b] = readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a - b);";
    const wrong = await verify({ language: 'javascript', tests: cases }, fenced('js', esm));
    expect(wrong).toMatchObject({ score: 0, correct: false });
    expect(wrong.detail).toContain('printed "-1", expected "3"');
  });

  it('gives a timeout a verdict and skips the remaining cases', async () => {
    const started = Date.now();
    const looping = await verify(addTests, fenced('python', 'def add(a, b):\n    while True:\n        pass'));
    expect(looping).toMatchObject({ score: 0, correct: false });
    expect(looping.detail).toMatch(/timed out after 3s/);
    const io = await verify({ language: 'python', tests: [{ input: '1', output: '1' }, { input: '2', output: '2' }, { input: '3', output: '3' }] }, 'while True: pass');
    expect(io.detail).toMatch(/0\/3 tests passed; test 1 failed: timed out/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('gives crashes, memory blow-ups and floods a verdict', async () => {
    const crash = await verify(addTests, fenced('python', 'import sys\nsys.setrecursionlimit(10**6)\ndef add(a, b):\n    return add(a, b)'));
    expect(crash.correct).toBe(false);
    const memory = await verify(addTests, fenced('python', 'def add(a, b):\n    return len(bytearray(8 * 1024 ** 3))'));
    expect(memory.correct).toBe(false);
    expect(memory.detail).toMatch(/MemoryError/);
    const jsMemory = await verify({ language: 'javascript', tests: ['grow()'] }, fenced('js', 'function grow() { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }'));
    expect(jsMemory.correct).toBe(false);
    expect(jsMemory.detail).toMatch(/out of memory|killed/);
    const flood = await verify(addTests, fenced('python', 'def add(a, b):\n    while True:\n        print("x" * 100000)'));
    expect(flood.detail).toMatch(/wrote more than 1 MiB of output/);
    const syntax = await verify(addTests, fenced('python', 'def add(a, b)\n    return a + b'));
    expect(syntax.detail).toMatch(/^the program failed before the tests: SyntaxError/);
  });

  it('does not count tests a program skips by exiting early, or reports it forges', async () => {
    const exits = await verify(addTests, fenced('python', 'import os\nos._exit(0)'));
    expect(exits).toMatchObject({ score: 0, correct: false });
    const forges = await verify(
      addTests,
      fenced('python', 'import os\nfor i in range(3):\n    print("0" * 32 + \' {"test": %d, "ok": true}\' % i)\ndef add(a, b):\n    os._exit(0)'),
    );
    expect(forges).toMatchObject({ score: 0, correct: false });
    const jsExit = await verify({ language: 'javascript', tests: ['if (f() !== 1) throw 1'] }, fenced('js', 'process.exit(0);\nfunction f() { return 1; }'));
    expect(jsExit.correct).toBe(false);
  });

  it('gives no program a verdict', async () => {
    expect(await verify(addTests, '```python\n\n```')).toMatchObject({ score: 0, correct: false, answer: null, detail: 'no program in the answer' });
  });

  it('runs many verifications at once', async () => {
    const verdicts = await Promise.all(
      Array.from({ length: 6 }, (_, i) => verify(addTests, fenced('python', `def add(a, b):\n    return a + b + ${i % 2}`))),
    );
    expect(verdicts.map((v) => v.correct)).toEqual([true, false, true, false, true, false]);
  });

  it('stops when the caller aborts, with an error rather than a verdict', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 300);
    await expect(verify(addTests, fenced('python', 'import time\ntime.sleep(30)'), controller.signal)).rejects.toThrow(/activity cancelled/);
  });
});
