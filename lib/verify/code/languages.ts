/**
 * The interpreters a program runs under, as the sandbox needs them: an absolute path, and the installation
 * directories to bind read-only when they are outside /usr (a pyenv or nvm install under /root, for example).
 */
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

export type CodeLanguage = 'python' | 'javascript';

export interface Interpreter {
  /** argv before the script's name. */
  command: string[];
  binds: string[];
  path: string[];
}

const run = promisify(execFile);

function outsideUsr(path: string): boolean {
  return !(path === '/usr' || path.startsWith('/usr/'));
}

/**
 * Asks the host's `python3` (or `command`) where it really lives; a pyenv shim, for one, is a script that would not
 * work inside the sandbox. `-I -B`: isolated mode (no PYTHON* variables, no user site) and no .pyc writes.
 */
export async function pythonInterpreter(command = 'python3'): Promise<Interpreter> {
  let facts: [string, string, string];
  try {
    const { stdout } = await run(command, ['-c', 'import sys, json; print(json.dumps([sys.executable, sys.base_prefix, sys.prefix]))'], {
      timeout: 30_000,
    });
    facts = JSON.parse(stdout) as [string, string, string];
  } catch (err) {
    throw new Error(`code verifier: cannot run ${command} to find the Python interpreter (${(err as Error).message}); install python3 or set the verifier's \`python\` option`);
  }
  const executable = await realpath(facts[0]);
  const binds = [...new Set([facts[1], facts[2], dirname(dirname(executable))])].filter(outsideUsr);
  return { command: [executable, '-I', '-B'], binds, path: [dirname(facts[0])] };
}

/** The Node.js this worker runs on (or `executable`), with its installation prefix bound when outside /usr. */
export async function nodeInterpreter(executable = process.execPath, memoryMb?: number): Promise<Interpreter> {
  const real = await realpath(executable);
  const prefix = dirname(dirname(real));
  // A V8 heap limit below the rlimit makes a blow-up a clean "heap out of memory" instead of a failed mmap.
  const heap = memoryMb ? [`--max-old-space-size=${Math.max(16, Math.floor(memoryMb * 0.75))}`] : [];
  return { command: [real, ...heap], binds: outsideUsr(prefix) ? [prefix] : [], path: [dirname(real)] };
}
