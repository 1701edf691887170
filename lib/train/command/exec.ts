/**
 * Running a scheduler's command (sbatch, squeue, kubectl, a user's template) to completion with a timeout, its
 * output captured. Node's execFile does all this; a failure becomes an error that says which command, its exit
 * code and what it printed.
 */
import { execFile } from 'node:child_process';

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args`; resolves with its exit code and output whatever the code (rejects only when it cannot run). */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
        if (err && typeof err.code === 'string') {
          reject(new Error(`cannot run ${file}: ${err.code === 'ENOENT' ? 'command not found' : err.message}`));
          return;
        }
        if (err?.killed) {
          reject(new Error(`${file} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms`));
          return;
        }
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Runs a shell command line with bash. */
export function runShell(command: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CommandOutput> {
  return runCommand('bash', ['-c', command], options);
}

/** `what` failed: its exit code and the end of what it printed. */
export function commandFailure(what: string, out: CommandOutput): Error {
  const text = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-5).join('\n');
  return new Error(`${what} exited with code ${out.code}${text ? `: ${text}` : ''}`);
}

/** Variables that look like credentials: a trainer job gets them only when the config names them in `passEnv`. */
const SECRET_LIKE = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|^DATABASE_URL$|^PG/i;

/** The environment a trainer job inherits: the worker's, without credentials unless passed on purpose. */
export function trainerEnv(base: NodeJS.ProcessEnv, passEnv: readonly string[], extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && (!SECRET_LIKE.test(name) || passEnv.includes(name))) env[name] = value;
  }
  return { ...env, ...extra };
}
