import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadRunConfig, parseRunConfig } from '../../../config/load.js';

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseRunConfig(text, 'run.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('run config', () => {
  it('fills defaults for a minimal config', () => {
    const config = parseRunConfig('task: {kind: countdown}\n');
    expect(config.rounds).toBe(5);
    expect(config.task).toEqual({ kind: 'countdown', seed: 42, train: 500, test: 200 });
    expect(config.generate.samplesPerProblem).toBe(16);
    expect(config.finetune.from).toBe('base');
    expect(config.model.baseUrl).toBe('embedded');
  });

  it('loads the demo example as it is', () => {
    const { config } = loadRunConfig(path.resolve('config/examples/countdown.yaml'), {});
    expect(config.name).toBe('countdown-demo');
    expect(config.rounds).toBe(5);
    expect(config.verifier).toEqual({ name: 'countdown' });
  });

  it('names every wrong field by its path and line', () => {
    const issues = issuesOf(
      [
        'rounds: five', //                    line 1
        'task:', //                           line 2
        '  kind: countdown',
        '  trian: 100', //                    line 4: typo
        'generate:',
        '  samplesPerProblem: 0', //          line 6
        'evaluate: {samples: 4, k: [1, 8]}', // line 7
      ].join('\n'),
    );
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(Object.keys(byPath).sort()).toEqual(['evaluate.k.1', 'generate.samplesPerProblem', 'rounds', 'task.trian'].sort());
    expect(byPath['rounds']!.line).toBe(1);
    expect(byPath['task.trian']!.line).toBe(4);
    expect(byPath['task.trian']!.message).toMatch(/unknown key/);
    expect(byPath['generate.samplesPerProblem']!.line).toBe(6);
    expect(byPath['evaluate.k.1']!.message).toMatch(/k=8 needs at least 8 samples/);
  });

  it('refuses an API key in the config and says where it belongs', () => {
    const issues = issuesOf('task: {kind: countdown}\nmodel:\n  apiKey: sk-live-123\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'model.apiKey', line: 3 });
    expect(issues[0]!.message).toMatch(/environment variable.*model\.apiKeyEnv/);
  });

  it('takes ${VAR} and ${VAR:-default} from the environment, and reports unset ones', () => {
    const config = parseRunConfig('rounds: ${ROUNDS:-2}\ntask: {kind: countdown}\nmodel: {baseUrl: "${URL}"}\n', 'x', {
      URL: 'http://gpu-node:8000/v1',
    });
    expect(config.rounds).toBe(2);
    expect(config.model.baseUrl).toBe('http://gpu-node:8000/v1');
    const issues = issuesOf('task: {kind: countdown}\nmodel: {baseUrl: "${MISSING_URL}"}\n');
    expect(issues[0]).toMatchObject({ path: 'model.baseUrl', line: 2 });
    expect(issues[0]!.message).toMatch(/MISSING_URL is not set/);
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = issuesOf('task:\n  kind: countdown\n  seed: [1, 2\n');
    expect(issues[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it('reads JSON configs too, with positions', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flywheel-config-'));
    const file = path.join(dir, 'run.json');
    writeFileSync(file, '{\n  "task": {"kind": "countdown", "train": "many"}\n}\n');
    try {
      loadRunConfig(file, {});
      throw new Error('expected a ConfigError');
    } catch (err) {
      const e = err as ConfigError;
      expect(e.issues).toEqual([expect.objectContaining({ path: 'task.train', line: 2 })]);
      expect(e.message).toContain(`${file}:2`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing file clearly', () => {
    expect(() => loadRunConfig('/nonexistent/run.yaml', {})).toThrow(/^\/nonexistent\/run.yaml: no such file: \/nonexistent\/run.yaml \(check the path/);
  });
});
