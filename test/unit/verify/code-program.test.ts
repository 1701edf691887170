import { describe, expect, it } from 'vitest';
import { extractProgram, outputsMatch, parseCodeReference, programKey } from '../../../lib/verify/code/index.js';

describe('extractProgram', () => {
  it('takes the last block in the language, else untagged, else any, else the whole text', () => {
    const text = 'Try:\n```python\nprint(1)\n```\nBetter:\n```py\nprint(2)\n```\nOutput:\n```text\n2\n```\n';
    expect(extractProgram(text, 'python')).toBe('print(2)\n');
    expect(extractProgram('```\nx = 1\n```', 'python')).toBe('x = 1\n');
    expect(extractProgram('```js\nconsole.log(1)\n```\n```javascript\nconsole.log(2)\n```', 'javascript')).toBe('console.log(2)\n');
    expect(extractProgram('```ruby\nputs 1\n```', 'python')).toBe('puts 1\n');
    expect(extractProgram('print(3)', 'python')).toBe('print(3)\n');
  });

  it('reads a final fence left open by a cut-off generation', () => {
    expect(extractProgram('Here:\n```python\ndef f():\n    return 1\n', 'python')).toBe('def f():\n    return 1\n');
  });
});

describe('programKey', () => {
  it('ignores trailing spaces and surrounding blank lines, nothing else', () => {
    expect(programKey('x = 1  \n\n')).toBe(programKey('\nx = 1'));
    expect(programKey('x = 1')).not.toBe(programKey('x = 2'));
  });
});

describe('parseCodeReference', () => {
  it('reads test code, lists of tests, and stdin/stdout cases', () => {
    expect(parseCodeReference({ language: 'python', tests: 'assert f(1) == 2' })).toEqual({
      language: 'python', plan: { kind: 'assertions', tests: ['assert f(1) == 2'], entrypoint: undefined },
    });
    expect(parseCodeReference({ language: 'js', tests: ['a', 'b'] }).plan).toMatchObject({ kind: 'assertions', tests: ['a', 'b'] });
    expect(parseCodeReference({ language: 'python', tests: [{ input: '1 2', output: 3 }] }).plan).toEqual({
      kind: 'io', cases: [{ input: '1 2', output: '3' }],
    });
  });

  it('calls check(entrypoint) for HumanEval-style tests', () => {
    const ref = parseCodeReference({ language: 'python', test: 'def check(candidate):\n    assert candidate(1) == 2\n', entry_point: 'inc' });
    expect(ref.plan).toMatchObject({ kind: 'assertions', entrypoint: 'inc' });
    expect((ref.plan as { tests: string[] }).tests[0]).toMatch(/check\(inc\)\n$/);
    const js = parseCodeReference({ language: 'javascript', tests: 'const check = (f) => {}', entrypoint: 'inc' });
    expect((js.plan as { tests: string[] }).tests[0]).toMatch(/check\(inc\)\n$/);
  });

  it('uses the verifier default language, and explains what is wrong', () => {
    expect(parseCodeReference({ tests: 'x' }, 'javascript').language).toBe('javascript');
    expect(() => parseCodeReference({ tests: 'x' })).toThrow(/language is missing/);
    expect(() => parseCodeReference({ language: 'ruby', tests: 'x' })).toThrow(/"ruby", not one of python, javascript/);
    expect(() => parseCodeReference({ language: 'python' })).toThrow(/reference.tests must be/);
    expect(() => parseCodeReference({ language: 'python', tests: [] })).toThrow(/reference.tests must be/);
    expect(() => parseCodeReference({ language: 'python', tests: 'x', entrypoint: 'a b' })).toThrow(/entrypoint must be an identifier/);
  });
});

describe('outputsMatch', () => {
  it('compares whitespace-separated tokens', () => {
    expect(outputsMatch('3\n', '3')).toBe(true);
    expect(outputsMatch('1 2\r\n3  \n\n', '1 2\n3')).toBe(true);
    expect(outputsMatch('1 2', '1\n2')).toBe(true);
    expect(outputsMatch('3.0', '3')).toBe(false);
    expect(outputsMatch('1 2 3', '1 2')).toBe(false);
  });
});
