/** `flywheel verify`: one verdict from the command line, for debugging a verifier; exit 0 correct, 1 wrong, 2 bad input. */
import { describe, expect, it } from 'vitest';
import { runFlywheel } from '../helpers/processes.js';

const verify = (...args: string[]) => runFlywheel(['verify', ...args], {});

describe('flywheel verify', () => {
  it('prints a verdict as JSON, and exits 0 when correct', async () => {
    const r = await verify('math', '--gold=\\frac12', '--pred=so the answer is \\boxed{0.5}', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verifier: 'math', correct: true, score: 1, answer: '0.5' });
  });

  it('exits 1 on a wrong answer and says why', async () => {
    const r = await verify('countdown', '--gold={"numbers": [2, 3, 4, 5], "target": 14}', '--pred=Answer: 5 * 2 + 4');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/wrong · score 0.1/);
    expect(r.stdout).toMatch(/must use each of \[2, 3, 4, 5\] exactly once/);
  });

  it('exits 2 on an unknown verifier or a bad option, naming it', async () => {
    const unknown = await verify('nope', '--gold=1', '--pred=1');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/verifier "nope"/);
    const option = await verify('exact', '--gold=a', '--pred=a', '--option', 'caseSensitiv=false');
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/caseSensitiv/);
  });
});
