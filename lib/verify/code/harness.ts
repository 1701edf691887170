/**
 * The test harnesses that run inside the sandbox for assertion tests. Each loads the program, then runs every
 * test in its own try block, and reports on stdout in lines `<nonce> <json>`. The nonce and the tests are read
 * from files the harness deletes before the program runs, and a run only counts tests reported before the final
 * `done` line, so a program that prints fake reports, exits early (`sys.exit(0)`) or reads the expected values
 * gains nothing. (A program that digs the nonce out of the harness's memory could still forge; these are guards
 * against the shortcuts a policy stumbles on, not a proof.)
 */

export type HarnessReport =
  | { program: 'ok' }
  | { program: 'error'; error: string }
  | { test: number; ok: true }
  | { test: number; ok: false; error: string }
  | { done: true };

export const PYTHON_HARNESS = String.raw`
import json, linecache, os, sys, traceback, types

def _flywheel_harness():
    with open('.nonce') as f:
        nonce = f.read().strip()
    os.remove('.nonce')
    with open('tests.json') as f:
        spec = json.load(f)
    os.remove('tests.json')
    out = os.fdopen(os.dup(1), 'w', buffering=1)

    def report(obj):
        out.write('\n' + nonce + ' ' + json.dumps(obj) + '\n')
        out.flush()

    def register(name, source):
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)

    def describe(err, filename):
        text = type(err).__name__
        message = str(err)
        if message:
            text += ': ' + message
        for frame in reversed(traceback.extract_tb(err.__traceback__)):
            if frame.filename == filename and frame.line:
                text += ' (at: ' + frame.line.strip() + ')'
                break
        return text[:500]

    with open('solution.py') as f:
        source = f.read()
    register('solution.py', source)
    module = types.ModuleType('solution')
    module.__file__ = '/work/solution.py'
    sys.modules['solution'] = module
    try:
        exec(compile(source, 'solution.py', 'exec'), module.__dict__)
    except BaseException as err:
        report({'program': 'error', 'error': describe(err, 'solution.py')})
        report({'done': True})
        return
    report({'program': 'ok'})
    entrypoint = spec.get('entrypoint')
    for i, test in enumerate(spec['tests']):
        name = 'test_%d.py' % i
        register(name, test)
        try:
            if entrypoint and not hasattr(module, entrypoint):
                raise NameError('the program defines no ' + entrypoint)
            exec(compile(test, name, 'exec'), dict(module.__dict__))
            report({'test': i, 'ok': True})
        except BaseException as err:
            report({'test': i, 'ok': False, 'error': describe(err, name)})
    report({'done': True})

_flywheel_harness()
`;

export const JAVASCRIPT_HARNESS = String.raw`
'use strict';
const fs = require('node:fs');
const vm = require('node:vm');
const writeSync = fs.writeSync;
const exit = process.exit.bind(process);
const nonce = fs.readFileSync('.nonce', 'utf8').trim();
fs.unlinkSync('.nonce');
const spec = JSON.parse(fs.readFileSync('tests.json', 'utf8'));
fs.unlinkSync('tests.json');
const source = fs.readFileSync('solution.js', 'utf8');

function report(obj) {
  writeSync(1, '\n' + nonce + ' ' + JSON.stringify(obj) + '\n');
}

function describe(err, filename) {
  let text = err instanceof Error ? err.name + ': ' + err.message : 'thrown: ' + String(err);
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : '';
  const at = stack.split('\n').find((line) => line.includes(filename + ':'));
  if (at) text += ' (' + at.trim() + ')';
  return text.slice(0, 500);
}

// ES module syntax in a script: drop 'export' so that the declarations stay.
function withoutExports(code) {
  return code
    .replace(/^(\s*)export\s+default\s+(?=(async\s+)?function\b|class\b)/gm, '$1')
    .replace(/^(\s*)export\s+(?=(async\s+)?function\b|class\b|const\b|let\b|var\b)/gm, '$1');
}

async function settle(value) {
  if (value && typeof value.then === 'function') await value;
}

async function main() {
  globalThis.require = require;
  globalThis.module = { exports: {} };
  globalThis.exports = globalThis.module.exports;
  try {
    await settle(vm.runInThisContext(withoutExports(source), { filename: 'solution.js' }));
  } catch (err) {
    report({ program: 'error', error: describe(err, 'solution.js') });
    report({ done: true });
    return;
  }
  report({ program: 'ok' });
  for (let i = 0; i < spec.tests.length; i++) {
    const filename = 'test_' + i + '.js';
    try {
      if (spec.entrypoint && vm.runInThisContext('typeof ' + spec.entrypoint) === 'undefined') {
        throw new ReferenceError('the program defines no ' + spec.entrypoint);
      }
      // Each test in its own async function: its declarations do not collide with the program's or other tests'.
      await settle(vm.runInThisContext('(async () => {\n' + spec.tests[i] + '\n})()', { filename, lineOffset: -1 }));
      report({ test: i, ok: true });
    } catch (err) {
      report({ test: i, ok: false, error: describe(err, filename) });
    }
  }
  report({ done: true });
}

main().then(() => exit(0), (err) => {
  writeSync(2, 'harness: ' + String(err && err.stack || err) + '\n');
  exit(70);
});
`;

/** The reports in a harness's stdout that carry this run's nonce, in order; everything else is the program's. */
export function parseHarnessOutput(stdout: string, nonce: string): HarnessReport[] {
  const reports: HarnessReport[] = [];
  const prefix = nonce + ' ';
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    try {
      reports.push(JSON.parse(line.slice(prefix.length)) as HarnessReport);
    } catch {
      // a report cut off by the output cap or a kill
    }
  }
  return reports;
}
