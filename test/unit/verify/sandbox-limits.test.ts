import { describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_LIMITS, prlimitArgs, resolveLimits } from '../../../lib/verify/sandbox/limits.js';

describe('sandbox limits', () => {
  it('fills defaults, and ties CPU seconds to the wall time', () => {
    expect(resolveLimits()).toEqual(DEFAULT_SANDBOX_LIMITS);
    expect(resolveLimits({ timeoutMs: 2500, memoryMb: undefined })).toMatchObject({ timeoutMs: 2500, cpuSeconds: 4, memoryMb: 512 });
    expect(resolveLimits({ timeoutMs: 2500, cpuSeconds: 1 }).cpuSeconds).toBe(1);
  });

  it('refuses nonsense', () => {
    expect(() => resolveLimits({ memoryMb: 0 })).toThrow(/memoryMb must be a positive number/);
    expect(() => resolveLimits({ timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
  });

  it('sets soft and hard rlimits alike, address space only when asked', () => {
    const args = prlimitArgs(resolveLimits({ memoryMb: 256, maxProcesses: 16 }));
    expect(args).toContain(`--as=${256 * 1024 * 1024}:${256 * 1024 * 1024}`);
    expect(args).toContain(`--data=${256 * 1024 * 1024}:${256 * 1024 * 1024}`);
    expect(args).toContain('--nproc=16:16');
    expect(args).toContain('--core=0:0');
    expect(prlimitArgs(resolveLimits({ limitAddressSpace: false })).some((a) => a.startsWith('--as='))).toBe(false);
  });
});
