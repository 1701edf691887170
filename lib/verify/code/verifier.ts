/**
 * Code verifier: runs the program from a model's output against the reference's tests in the sandbox. Score is
 * the fraction of tests passed, correct when all pass. Whatever the program does (loop, crash, blow up memory,
 * flood output, try to escape) becomes a verdict with a detail; only a machine that cannot sandbox, or a reference
 * that cannot be used, throws.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { createGate } from '../../concurrency.js';
import { runInSandbox } from '../sandbox/sandbox.js';
import type { SandboxLimits } from '../sandbox/limits.js';
import type { SandboxResult } from '../sandbox/spawn.js';
import type { Verdict, Verifier, VerifyContext, VerifyInput } from '../types.js';
import { versionWithOptions } from '../version.js';
import { JAVASCRIPT_HARNESS, parseHarnessOutput, PYTHON_HARNESS } from './harness.js';
import { nodeInterpreter, pythonInterpreter, type CodeLanguage, type Interpreter } from './languages.js';
import { extractProgram, outputsMatch, parseCodeReference, programKey, type IoCase } from './program.js';

export const CODE_VERSION = '1';

export interface CodeVerifierOptions {
  /** Wall-clock limit per run: the whole harness for test code, each case for stdin/stdout cases. */
  timeoutMs?: number;
  memoryMb?: number;
  maxProcesses?: number;
  maxOutputBytes?: number;
  diskMb?: number;
  /** Language for references that do not name one. */
  language?: CodeLanguage;
  /** The host's Python command, asked where its interpreter lives (default `python3`). */
  python?: string;
  /** The Node.js executable (default: the one running this worker). */
  node?: string;
  /** Sandboxes run at once by this verifier (default: the CPU count), so that load does not cause timeouts. */
  maxConcurrent?: number;
}

interface TestOutcome {
  ok: boolean;
  why?: string;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}

/** Why a run went wrong, in words; null when it simply exited. */
function runFailure(run: SandboxResult, limits: Pick<SandboxLimits, 'timeoutMs' | 'maxOutputBytes'>): string | null {
  if (run.timedOut) return `timed out after ${limits.timeoutMs / 1000}s`;
  if (run.outputLimited) return `wrote more than ${mib(limits.maxOutputBytes)} of output`;
  if (run.oomKilled) return 'killed for using too much memory';
  if (/MemoryError|heap out of memory|Array buffer allocation failed|Cannot allocate memory/.test(run.stderr)) return 'ran out of memory';
  if (run.signal === 'SIGXCPU') return 'used up its CPU time';
  if (run.signal) return `killed by ${run.signal}`;
  return null;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1]?.slice(0, 300) ?? '';
}

export function createCodeVerifier(options: CodeVerifierOptions = {}): Verifier {
  const limits: Partial<SandboxLimits> = {
    timeoutMs: options.timeoutMs,
    memoryMb: options.memoryMb,
    maxProcesses: options.maxProcesses,
    maxOutputBytes: options.maxOutputBytes,
    diskMb: options.diskMb,
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxOutputBytes = options.maxOutputBytes ?? 1 << 20;
  const gate = createGate(options.maxConcurrent ?? Math.max(1, availableParallelism()));
  const interpreters = new Map<CodeLanguage, Promise<Interpreter>>();
  function interpreter(language: CodeLanguage): Promise<Interpreter> {
    let found = interpreters.get(language);
    if (!found) {
      found = language === 'python' ? pythonInterpreter(options.python) : nodeInterpreter(options.node, options.memoryMb ?? 512);
      found.catch(() => interpreters.delete(language));
      interpreters.set(language, found);
    }
    return found;
  }
  const languageLimits = (language: CodeLanguage): Partial<SandboxLimits> => ({ ...limits, limitAddressSpace: language === 'python' });

  async function runAssertions(language: CodeLanguage, program: string, tests: string[], entrypoint: string | undefined, signal?: AbortSignal) {
    const interp = await interpreter(language);
    const nonce = randomBytes(16).toString('hex');
    const ext = language === 'python' ? 'py' : 'js';
    const harnessFile = language === 'python' ? 'harness.py' : 'harness.cjs';
    const files = {
      [`solution.${ext}`]: program,
      [harnessFile]: language === 'python' ? PYTHON_HARNESS : JAVASCRIPT_HARNESS,
      'tests.json': JSON.stringify({ tests, entrypoint }),
      '.nonce': nonce,
    };
    const run = await gate(() =>
      runInSandbox(
        {
          files,
          command: [...interp.command, harnessFile],
          binds: interp.binds,
          path: interp.path,
          signal,
        },
        languageLimits(language),
      ),
    );
    const reports = parseHarnessOutput(run.stdout, nonce);
    const outcomes: TestOutcome[] = tests.map(() => ({ ok: false }));
    const finished = reports.some((r) => 'done' in r);
    let programError: string | null = null;
    for (const r of reports) {
      if ('program' in r && r.program === 'error') programError = r.error;
      // Each test is reported once; should a second report appear, a failure is never overwritten by a pass.
      if ('test' in r && r.test >= 0 && r.test < outcomes.length && !outcomes[r.test]!.why) {
        outcomes[r.test] = r.ok ? { ok: true } : { ok: false, why: r.error || 'failed' };
      }
    }
    const failure = runFailure(run, { timeoutMs, maxOutputBytes });
    if (!finished) {
      const why =
        failure ??
        `exited with code ${run.exitCode} before the tests finished${run.stderr.trim() ? `: ${lastLine(run.stderr)}` : ''}`;
      for (const o of outcomes) if (!o.ok && !o.why) o.why = why;
      if (programError === null && !reports.some((r) => 'program' in r)) programError = why;
    }
    return { outcomes, programError };
  }

  async function runCases(language: CodeLanguage, program: string, cases: IoCase[], signal?: AbortSignal) {
    const interp = await interpreter(language);
    // ES module syntax runs as an .mjs file; anything else as a plain script.
    const esm = language === 'javascript' && /^\s*(import\s[^(]|export\s)/m.test(program);
    const file = language === 'python' ? 'solution.py' : esm ? 'solution.mjs' : 'solution.js';
    const outcomes: TestOutcome[] = [];
    for (const [i, testCase] of cases.entries()) {
      const run = await gate(() =>
        runInSandbox(
          { files: { [file]: program }, command: [...interp.command, file], binds: interp.binds, path: interp.path, stdin: testCase.input, signal },
          languageLimits(language),
        ),
      );
      const failure = runFailure(run, { timeoutMs, maxOutputBytes });
      if (failure) outcomes.push({ ok: false, why: failure });
      else if (run.exitCode !== 0) outcomes.push({ ok: false, why: `exited with code ${run.exitCode}: ${lastLine(run.stderr)}` });
      else if (!outputsMatch(run.stdout, testCase.output)) {
        outcomes.push({ ok: false, why: `printed ${JSON.stringify(run.stdout.trim().slice(0, 80))}, expected ${JSON.stringify(testCase.output.trim().slice(0, 80))}` });
      } else outcomes.push({ ok: true });
      if (run.timedOut) {
        // A program that loops on one input most likely loops on the rest: do not spend their time too.
        for (let j = i + 1; j < cases.length; j++) outcomes.push({ ok: false, why: 'not run after an earlier case timed out' });
        break;
      }
    }
    return outcomes;
  }

  return {
    name: 'code',
    version: versionWithOptions(CODE_VERSION, { ...limits, language: options.language }),
    async verify(input: VerifyInput, context?: VerifyContext): Promise<Verdict> {
      const reference = parseCodeReference(input.reference, options.language);
      const program = extractProgram(input.text, reference.language);
      const answer = programKey(program);
      if (!program.trim()) return { score: 0, correct: false, answer: null, detail: 'no program in the answer' };
      let outcomes: TestOutcome[];
      let prefix = '';
      if (reference.plan.kind === 'assertions') {
        const r = await runAssertions(reference.language, program, reference.plan.tests, reference.plan.entrypoint, context?.signal);
        outcomes = r.outcomes;
        if (r.programError) prefix = `the program failed before the tests: ${r.programError}; `;
      } else {
        outcomes = await runCases(reference.language, program, reference.plan.cases, context?.signal);
      }
      const passed = outcomes.filter((o) => o.ok).length;
      const total = outcomes.length;
      const firstFailure = outcomes.findIndex((o) => !o.ok);
      const because = firstFailure >= 0 && !prefix ? `; test ${firstFailure + 1} failed: ${outcomes[firstFailure]!.why ?? 'failed'}` : '';
      return {
        score: total ? passed / total : 0,
        correct: total > 0 && passed === total,
        answer,
        detail: `${prefix}${passed}/${total} tests passed${because}`.slice(0, 1000),
      };
    },
  };
}
