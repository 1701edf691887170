/**
 * The harnesses' own logic, run directly with python3 and node on trusted programs (no sandbox needed, so this
 * runs everywhere); hostile programs are the sandbox tests' business.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JAVASCRIPT_HARNESS, parseHarnessOutput, PYTHON_HARNESS, type HarnessReport } from '../../../lib/verify/code/harness.js';

const run = promisify(execFile);
const NONCE = 'a1b2c3d4e5f6a7b8';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-harness-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function harness(language: 'python' | 'javascript', program: string, tests: string[], entrypoint?: string): Promise<HarnessReport[]> {
  const work = await mkdtemp(join(dir, 'run-'));
  const ext = language === 'python' ? 'py' : 'js';
  await writeFile(join(work, `solution.${ext}`), program);
  await writeFile(join(work, 'tests.json'), JSON.stringify({ tests, entrypoint }));
  await writeFile(join(work, '.nonce'), NONCE);
  const file = language === 'python' ? 'harness.py' : 'harness.cjs';
  await writeFile(join(work, file), language === 'python' ? PYTHON_HARNESS : JAVASCRIPT_HARNESS);
  const command = language === 'python' ? 'python3' : process.execPath;
  const { stdout } = await run(command, [file], { cwd: work, timeout: 20_000 }).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
  return parseHarnessOutput(stdout, NONCE);
}

describe('python harness', () => {
  it('runs each test in the program namespace and reports each', async () => {
    const reports = await harness('python', 'def add(a, b):\n    return a + b\n', ['assert add(1, 2) == 3', 'assert add(1, 1) == 3', 'from solution import add\nassert add(0, 0) == 0']);
    expect(reports[0]).toEqual({ program: 'ok' });
    expect(reports[1]).toEqual({ test: 0, ok: true });
    expect(reports[2]).toMatchObject({ test: 1, ok: false });
    expect((reports[2] as { error: string }).error).toBe('AssertionError (at: assert add(1, 1) == 3)');
    expect(reports[3]).toEqual({ test: 2, ok: true });
    expect(reports[4]).toEqual({ done: true });
  });

  it('reports a program that fails or exits while loading, and a missing entrypoint', async () => {
    expect((await harness('python', 'raise ValueError("boom")', ['pass']))[0]).toEqual({ program: 'error', error: 'ValueError: boom (at: raise ValueError("boom"))' });
    expect((await harness('python', 'import sys\nsys.exit(0)', ['pass']))[0]).toMatchObject({ program: 'error' });
    const exited = await harness('python', 'import os\nos._exit(0)', ['pass']);
    expect(exited.some((r) => 'done' in r)).toBe(false);
    expect((await harness('python', 'x = 1', ['pass'], 'solve'))[1]).toEqual({ test: 0, ok: false, error: 'NameError: the program defines no solve' });
  });

  it('ignores forged reports: the nonce is gone before the program runs', async () => {
    const forged = [
      'import os, sys',
      "found = [name for name in ('.nonce', 'tests.json', 'harness.py') if os.path.exists(name)]",
      "guess = open('.nonce').read() if '.nonce' in found else 'guess'",
      'print(guess + \' {"test": 0, "ok": true}\')',
      "print('visible:', found)",
    ].join('\n');
    const reports = await harness('python', forged, ['assert False']);
    expect(reports.filter((r) => 'test' in r)).toEqual([{ test: 0, ok: false, error: 'AssertionError (at: assert False)' }]);
  });
});

describe('javascript harness', () => {
  it('runs each test in its own scope against the program', async () => {
    const program = "const assert = require('node:assert');\nexport function add(a, b) { return a + b; }\n";
    const tests = ["const assert = require('node:assert');\nassert.strictEqual(add(1, 2), 3);", 'assert.strictEqual(add(1, 1), 3);', 'await Promise.resolve(); if (add(0, 0) !== 0) throw new Error("zero");'];
    const reports = await harness('javascript', program, tests);
    expect(reports[0]).toEqual({ program: 'ok' });
    expect(reports[1]).toEqual({ test: 0, ok: true });
    expect(reports[2]).toMatchObject({ test: 1, ok: false });
    expect((reports[2] as { error: string }).error).toMatch(/^AssertionError: .*test_1\.js:1/s);
    expect(reports[3]).toEqual({ test: 2, ok: true });
    expect(reports[4]).toEqual({ done: true });
  });

  it('reports load errors and exits even when the program leaves timers running', async () => {
    expect((await harness('javascript', 'throw new TypeError("bad")', ['1']))[0]).toMatchObject({ program: 'error' });
    const reports = await harness('javascript', 'setInterval(() => {}, 1000);\nfunction f() { return 1; }', ['if (f() !== 1) throw 1']);
    expect(reports.at(-1)).toEqual({ done: true });
    expect((await harness('javascript', 'const x = 1;', ['1'], 'solve'))[1]).toMatchObject({ test: 0, ok: false, error: 'ReferenceError: the program defines no solve' });
  });
});
