/**
 * Hostile programs in the sandbox: each is contained, gets a result, and leaves this test process (its
 * environment, its listening socket, its files) unharmed. Needs a machine that can sandbox (root, util-linux,
 * namespaces); elsewhere the only test here checks that the sandbox refuses, saying what is missing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeInterpreter, pythonInterpreter, type Interpreter } from '../../lib/verify/code/languages.js';
import { probeSandbox, runInSandbox, SandboxUnavailableError, type SandboxLimits, type SandboxResult } from '../../lib/verify/sandbox/index.js';

const support = await probeSandbox();
const SECRET = `sk-flywheel-fake-${randomBytes(8).toString('hex')}`;
const MARK = randomBytes(6).toString('hex');

let python: Interpreter;
let node: Interpreter;
let server: Server;
let port = 0;
const connections: Socket[] = [];

function py(code: string, limits: Partial<SandboxLimits> = {}, stdin?: string): Promise<SandboxResult> {
  return runInSandbox({ files: { 'main.py': code }, command: [...python.command, 'main.py'], binds: python.binds, path: python.path, stdin }, { timeoutMs: 5000, ...limits });
}

function js(code: string, limits: Partial<SandboxLimits> = {}): Promise<SandboxResult> {
  return runInSandbox(
    { files: { 'main.js': code }, command: [...node.command, 'main.js'], binds: node.binds, path: node.path },
    { timeoutMs: 5000, limitAddressSpace: false, ...limits },
  );
}

/** Processes on this machine running as a sandbox uid (they all should be gone after each run). */
function sandboxProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const uid = Number(status.match(/^Uid:\s+(\d+)/m)?.[1]);
      if (/^State:\s+Z/m.test(status)) continue; // ended, waiting to be reaped: not running
      if (uid >= 1_000_000 && uid < 2_000_000) found.push(`${pid} ${status.match(/^Name:\s+(.*)$/m)?.[1]}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

function leftoverSandboxDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('flywheel-sandbox-'));
}

describe.skipIf(support.available)('without a usable sandbox', () => {
  it('refuses to run code, saying what is missing', async () => {
    const error = await runInSandbox({ files: { 'main.py': 'print(1)' }, command: ['/usr/bin/python3', 'main.py'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxUnavailableError);
    expect((error as Error).message).toMatch(/code sandbox is not available on this worker, so no program is run: missing /);
    console.warn(`sandbox tests skipped: ${(error as Error).message}`);
  });
});

describe.runIf(support.available)('sandbox with hostile programs', () => {
  beforeAll(async () => {
    process.env.FLYWHEEL_FAKE_SECRET = SECRET;
    python = await pythonInterpreter();
    node = await nodeInterpreter(process.execPath, 512);
    server = createServer((socket) => {
      connections.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    // The test process is unharmed: its secret, its socket, its ability to run more programs.
    expect(process.env.FLYWHEEL_FAKE_SECRET).toBe(SECRET);
    expect(server.listening).toBe(true);
    expect(connections).toHaveLength(0);
    const after = await py('print("still fine")');
    expect(after.stdout).toBe('still fine\n');
    expect(sandboxProcesses()).toEqual([]);
    expect(leftoverSandboxDirs()).toEqual([]);
    await new Promise((resolve) => server.close(resolve));
    delete process.env.FLYWHEEL_FAKE_SECRET;
  });

  it('runs a normal program, in both languages, with a clean environment', async () => {
    const a = await py('import os, sys\nprint(sys.stdin.read().upper(), os.getcwd(), os.getuid() != 0)', {}, 'hello');
    expect(a).toMatchObject({ exitCode: 0, signal: null, timedOut: false, outputLimited: false });
    expect(a.stdout).toBe('HELLO /work True\n');
    const b = await js('console.log(process.cwd(), process.getuid() !== 0, Object.keys(process.env).sort().join(","))');
    expect(b.exitCode).toBe(0);
    expect(b.stdout).toBe('/work true HOME,LANG,PATH,TMPDIR\n');
  });

  it('reports a failing program by its exit code and stderr', async () => {
    const r = await py('import sys\nprint("oops", file=sys.stderr)\nsys.exit(3)');
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false });
    expect(r.stderr).toBe('oops\n');
  });

  it('kills an infinite loop at the wall-clock limit', async () => {
    const started = Date.now();
    const r = await py('while True:\n    pass', { timeoutMs: 1500 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('kills a program sleeping past the limit, with everything it started in the background', async () => {
    const r = await py(
      "import subprocess, time\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\ntime.sleep(60)",
      { timeoutMs: 1500 },
    );
    expect(r.timedOut).toBe(true);
    expect(sandboxProcesses()).toEqual([]);
  });

  it('contains a fork bomb', async () => {
    const started = Date.now();
    const r = await py('import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass', { timeoutMs: 2000, maxProcesses: 32 });
    expect(r.timedOut || r.processLimitHit || r.exitCode !== 0).toBe(true);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(sandboxProcesses()).toEqual([]);
  });

  it('contains a fork bomb written in JavaScript', async () => {
    const r = await js(
      "const { spawn } = require('node:child_process');\nfor (let i = 0; i < 10000; i++) { try { spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']).on('error', () => {}); } catch {} }\nsetInterval(() => {}, 1000);",
      { timeoutMs: 2000, maxProcesses: 32 },
    );
    expect(r.exitCode === 0).toBe(false);
    expect(sandboxProcesses()).toEqual([]);
  });

  it('stops a memory blow-up', async () => {
    const r = await py('chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 * 1024))', { memoryMb: 256 });
    expect(r.exitCode === 0).toBe(false);
    expect(r.stderr + String(r.oomKilled)).toMatch(/MemoryError|true/);
    const big = await py('x = bytearray(8 * 1024 ** 3)', { memoryMb: 256 });
    expect(big.stderr).toMatch(/MemoryError/);
    const j = await js('const a = []; for (;;) a.push(new Array(1e6).fill(1.5));', { memoryMb: 256 });
    expect(j.exitCode === 0).toBe(false);
  });

  it('has no network: not to a port this test listens on, not outside', async () => {
    const r = await py(
      [
        'import socket',
        `for host, port in [('127.0.0.1', ${port}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:`,
        '    s = socket.socket()',
        '    s.settimeout(2)',
        '    try:',
        '        s.connect((host, port))',
        '        print("CONNECTED", host)',
        '    except OSError as e:',
        '        print("blocked", host, e.errno)',
        'try:',
        '    socket.getaddrinfo("example.com", 80)',
        '    print("RESOLVED")',
        'except OSError:',
        '    print("no dns")',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('CONNECTED');
    expect(r.stdout).not.toContain('RESOLVED');
    expect(r.stdout.match(/blocked/g)).toHaveLength(3);
    const j = await js(`require('node:net').connect(${port}, '127.0.0.1').on('connect', () => console.log('CONNECTED')).on('error', (e) => console.log('blocked', e.code));`);
    expect(j.stdout).toMatch(/^blocked/);
    expect(connections).toHaveLength(0);
  });

  it('cannot write outside its directory', async () => {
    const targets = [join(tmpdir(), `flywheel-escape-${MARK}`), join(process.cwd(), `escape-${MARK}`), `/etc/escape-${MARK}`, `/usr/escape-${MARK}`, `/escape-${MARK}`];
    const code = [
      'import os',
      `for path in ${JSON.stringify(targets)}:`,
      '    try:',
      '        os.makedirs(os.path.dirname(path), exist_ok=True)',
      '        with open(path, "w") as f:',
      '            f.write("x")',
      '        print("wrote inside the sandbox only:", path)',
      '    except OSError as e:',
      '        print("denied", path, e.errno)',
      'open("/work/ok.txt", "w").write("fine")',
      'print(open("/work/ok.txt").read())',
    ].join('\n');
    const r = await py(code);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('fine');
    for (const target of targets) expect(existsSync(target)).toBe(false);
  });

  it('cannot fill the disk past its tmpfs', async () => {
    const r = await py('with open("/work/big", "wb") as f:\n    for _ in range(1000):\n        f.write(b"x" * 1024 * 1024)', { diskMb: 16 });
    expect(r.exitCode === 0).toBe(false);
    expect(r.stderr + String(r.signal)).toMatch(/No space left|File too large|SIGXFSZ/);
  });

  it('cannot read the worker environment or other processes', async () => {
    const code = [
      'import os, glob',
      'print(dict(os.environ))',
      'print(open("/proc/self/environ").read())',
      'for path in ["/proc/1/environ", "/proc/1/cmdline"] + glob.glob("/proc/[0-9]*/environ"):',
      '    try:',
      '        print(path, open(path).read())',
      '    except OSError as e:',
      '        print("denied", path, e.errno)',
      'print(sorted(p for p in os.listdir("/proc") if p.isdigit()))',
    ].join('\n');
    const r = await py(code);
    expect(r.exitCode).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).not.toContain('FLYWHEEL_FAKE_SECRET');
    const j = await js('console.log(JSON.stringify(process.env)); try { console.log(require("fs").readFileSync("/proc/1/environ", "utf8")) } catch (e) { console.log("denied", e.code) }');
    expect(j.stdout + j.stderr).not.toContain(SECRET);
    expect(j.stdout).toContain('denied');
  });

  it('cannot read the repository or the home directories', async () => {
    const r = await py(
      `import os\nfor p in [${JSON.stringify(join(process.cwd(), 'package.json'))}, "/root/.bashrc", "/home"]:\n    print(p, os.path.exists(p))`,
    );
    expect(r.stdout).toContain('package.json False');
    expect(r.stdout).toContain('/root/.bashrc False');
  });

  it('contains a subprocess trying to escape', async () => {
    const code = [
      'import subprocess',
      `print(subprocess.run(["/bin/sh", "-c", "id; echo pwned > /tmp/pwned-${MARK}; echo pwned > ${join(tmpdir(), `pwned-${MARK}`)}; cat /proc/1/environ; env; (sleep 300 > /dev/null 2>&1 &)"], capture_output=True, text=True))`,
      'import os',
      'try:',
      '    os.setuid(0)',
      '    print("ROOT")',
      'except OSError as e:',
      '    print("setuid denied", e.errno)',
    ].join('\n');
    const r = await py(code);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('ROOT');
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).not.toMatch(/uid=0\(/);
    expect(existsSync(join(tmpdir(), `pwned-${MARK}`))).toBe(false);
    expect(sandboxProcesses()).toEqual([]);
  });

  it('caps a flood of output and kills the flooder', async () => {
    const started = Date.now();
    const r = await py('while True:\n    print("x" * 10000)', { maxOutputBytes: 100_000, timeoutMs: 10_000 });
    expect(r.outputLimited).toBe(true);
    expect(r.stdout.length).toBeLessThanOrEqual(100_000);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('cannot kill its parent, everything it can see, or this process', async () => {
    const code = [
      'import os, signal',
      'for target in [os.getppid(), 1, ' + process.pid + ']:',
      '    try:',
      '        os.kill(target, signal.SIGKILL)',
      '        print("sent", target)',
      '    except OSError as e:',
      '        print("denied", target, e.errno)',
      'print("alive")',
    ].join('\n');
    const r = await py(code);
    expect(r.stdout).toContain('alive');
    // kill(-1) reaches every process the caller may signal: inside the sandbox, only its own.
    const everyone = await py('import os, signal, subprocess\nsubprocess.Popen(["sleep", "600"])\nos.kill(-1, signal.SIGKILL)\nprint("survived")');
    expect(everyone.stdout).toBe('survived\n');
    const j = await js(`for (const pid of [process.ppid, 1, ${process.pid}]) { try { process.kill(pid, 'SIGKILL'); console.log('sent', pid); } catch (e) { console.log('denied', pid, e.code); } }`);
    expect(j.stdout).toContain(`denied ${process.pid}`);
    expect(process.kill(process.pid, 0)).toBe(true);
  });

  it('runs CPU-bound work to its CPU limit only', async () => {
    const r = await py('while True:\n    pass', { timeoutMs: 10_000, cpuSeconds: 1 });
    expect(r.signal === 'SIGKILL' || r.signal === 'SIGXCPU').toBe(true);
    expect(r.wallMs).toBeLessThan(8000);
  });
});
