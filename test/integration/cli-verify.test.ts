/** `flywheel verify`: one verdict from the command line, for debugging a verifier; exit 0 correct, 1 wrong, 2 bad input. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/services.js';
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

  it('judges a cases file: agreement per group, the disagreements, exit 1 when any; bad lines named with exit 2', async () => {
    const dir = tempDir('cases');
    try {
      const file = path.join(dir.dir, 'cases.jsonl');
      writeFileSync(file, [
        JSON.stringify({ group: 'numbers', gold: '$1000$', pred: 'It is 1,000.', expected: true }),
        JSON.stringify({ group: 'numbers', gold: '$\\frac13$', pred: '$0.33$', expected: false }),
        JSON.stringify({ group: 'precision', gold: '$\\frac13$', pred: '$0.33$', expected: true, options: { precision: 2 } }),
        JSON.stringify({ group: 'relations', gold: '$x > 1$', pred: '$x < 1$', expected: true }),
        '',
      ].join('\n'));
      const r = await verify('math', '--cases', file, '--json');
      expect(r.code, r.stderr).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ cases: 4, agreed: 3, negatives: 1, falseAccepts: 0 });
      expect(out.groups.precision).toMatchObject({ cases: 1, agreed: 1 });
      expect(out.disagreements.map((d: { line: number }) => d.line)).toEqual([4]);
      const text = await verify('math', '--cases', file);
      expect(text.stdout).toMatch(/agrees on 3\/4 \(75\.0%\), accepts 0\/1 non-equivalent/);
      expect(text.stdout).toMatch(/cases\.jsonl:4 expected correct, got wrong/);

      writeFileSync(file, `${JSON.stringify({ gold: '1', pred: '1' })}\n{"gold": "1"}\n`);
      const bad = await verify('math', '--cases', file);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/cases\.jsonl:2: pred: /);
    } finally {
      dir.remove();
    }
  }, 120_000);
});
