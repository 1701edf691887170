import { describe, expect, it } from 'vitest';
import { createLogger, defaultLogFormat, prettyLine, scrubSecrets, secretValues } from '../../../telemetry/logger.js';
import { apiPath } from '../../../telemetry/metrics.js';
import { activityAwareLog, parseWorkflowId, sdkLogger, stageOf } from '../../../telemetry/temporal.js';

const capture = (format: 'json' | 'pretty', env: NodeJS.ProcessEnv = {}) => {
  const lines: string[] = [];
  const logger = createLogger({ format, env, base: {}, destination: { write: (l: string) => lines.push(l) } });
  return { logger, lines };
};

describe('the logger', () => {
  it('writes one JSON object per line with level names and ISO times', () => {
    const { logger, lines } = capture('json');
    logger.info({ runId: 'r', round: 2 }, 'hello');
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 'info', runId: 'r', round: 2, msg: 'hello' });
    expect(record.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('prints a readable line on a terminal, the ids first', () => {
    const line = prettyLine(JSON.stringify({ level: 'warn', time: '2026-01-01T12:04:05.123Z', runId: 'r', round: 2, stage: 'generate', activity: 'generateShard', attempt: 2, msg: 'retry', delayMs: 5 }));
    expect(line).toBe('12:04:05.123 WARN  run r · round 2 · generate · generateShard (attempt 2) · retry delayMs=5\n');
    expect(prettyLine('not json')).toBe('not json');
  });

  it('chooses pretty on a TTY, JSON otherwise, FLYWHEEL_LOG_FORMAT over both', () => {
    expect(defaultLogFormat({ isTTY: true }, {})).toBe('pretty');
    expect(defaultLogFormat({ isTTY: false }, {})).toBe('json');
    expect(defaultLogFormat({ isTTY: true }, { FLYWHEEL_LOG_FORMAT: 'json' })).toBe('json');
  });

  it('finds secret-looking variables and scrubs their values in every form, and URL passwords', () => {
    const env = { OPENAI_API_KEY: 'sk-abcdefghijkl', HF_TOKEN: 'hf_0123456789', HOME: '/root/very/long/path', SHORT_KEY: 'abc' };
    expect(secretValues(env).sort()).toEqual(['hf_0123456789', 'sk-abcdefghijkl']);
    const b64 = Buffer.from('sk-abcdefghijkl').toString('base64');
    expect(scrubSecrets(`key sk-abcdefghijkl, ${b64}, postgres://u:pw@h/db`, secretValues(env))).toBe('key [redacted], [redacted], postgres://u:***@h/db');
    const { logger, lines } = capture('json', env);
    logger.info({ apiKey: 'anything', nested: { authorization: 'Bearer x' } }, 'using sk-abcdefghijkl');
    expect(JSON.parse(lines[0]!)).toMatchObject({ apiKey: '[redacted]', nested: { authorization: '[redacted]' }, msg: 'using [redacted]' });
  });
});

describe('Temporal context in log records', () => {
  it('reads run and round from workflow ids, and the stage from the activity and its input', () => {
    expect(parseWorkflowId('flywheel-run-demo-1-round-3')).toEqual({ runId: 'demo-1', round: 3 });
    expect(parseWorkflowId('flywheel-run-demo-1')).toEqual({ runId: 'demo-1' });
    expect(parseWorkflowId('other')).toEqual({});
    expect(stageOf('generateShard', { purpose: 'train' })).toBe('generate');
    expect(stageOf('generateShard', { purpose: 'eval' })).toBe('evaluate');
    expect(stageOf('fineTune', {})).toBe('fine-tune');
    expect(stageOf('beginStage', { stage: 'verify' })).toBe('verify');
  });

  it('adapts pino to the SDK logger, adding run and round from metadata', () => {
    const { logger, lines } = capture('json');
    const sdk = sdkLogger(logger);
    sdk.warn('Activity failed', { workflowId: 'flywheel-run-r9-round-1', activityType: 'verifyShard', attempt: 2 });
    sdk.info('No workflows registered, not polling for workflow tasks');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', msg: 'Activity failed', runId: 'r9', round: 1, activity: 'verifyShard', attempt: 2 });
  });

  it('logs deps.log lines through the activity context inside an activity, else directly', () => {
    const { logger, lines } = capture('json');
    const seen: string[] = [];
    const inside = activityAwareLog(logger, () => ({ log: { ...sdkLogger(logger), info: (m: string) => seen.push(m) } }));
    inside('trainer job ftjob-1: running');
    expect(seen).toEqual(['trainer job ftjob-1: running']);
    const outside = activityAwareLog(logger, () => {
      throw new Error('not in an activity');
    });
    outside('worker started');
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'worker started' });
  });
});

describe('metric labels', () => {
  it('name API paths without ids', () => {
    expect(apiPath('/v1/chat/completions')).toBe('chat/completions');
    expect(apiPath('/v1/fine_tuning/jobs/ftjob-12ab')).toBe('fine_tuning/jobs/:id');
    expect(apiPath('/')).toBe('/');
  });
});
