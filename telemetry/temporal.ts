/**
 * pino behind the Temporal SDK: the Runtime's logger (what the SDK and core say, and what activities log through
 * their context logger), and the ids every activity record carries: run, round and stage (read from the workflow
 * id and the activity's input), activity type and attempt.
 */
import { Context as ActivityContextClass, type Context as ActivityContext } from '@temporalio/activity';
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import type { ActivityInterceptors } from '@temporalio/worker';
import type { Logger } from './logger.js';

const ROUND_WORKFLOW = /^flywheel-run-(.+)-round-(\d+)$/;
const RUN_WORKFLOW = /^flywheel-run-(.+)$/;

export interface ActivityLogContext {
  runId?: string;
  round?: number;
  stage?: string;
  activity: string;
  attempt: number;
  workflowId?: string;
  activityId?: string;
}

/** The stage an activity works for: `generateShard` of held-out problems is the evaluate stage, not generate. */
export function stageOf(activityType: string, input: unknown): string | undefined {
  const args = (input ?? {}) as { purpose?: string; stage?: string };
  const evaluating = args.purpose === 'eval';
  switch (activityType) {
    case 'generateShard':
      return evaluating ? 'evaluate' : 'generate';
    case 'verifyShard':
      return evaluating ? 'evaluate' : 'verify';
    case 'searchShard':
    case 'searchRound':
      return evaluating ? 'evaluate' : 'search';
    case 'rationalizeShard':
      return 'search';
    case 'filterRound':
      return 'filter';
    case 'fineTune':
      return 'fine-tune';
    case 'deployModel':
      return 'deploy';
    case 'scoreEval':
      return 'evaluate';
    case 'promote':
      return 'promote';
    default:
      return typeof args.stage === 'string' ? args.stage : undefined;
  }
}

/** Run and round from a flywheel workflow id (`flywheel-run-<run>-round-<n>` or `flywheel-run-<run>`). */
export function parseWorkflowId(workflowId: string | undefined): { runId?: string; round?: number } {
  if (!workflowId) return {};
  const round = ROUND_WORKFLOW.exec(workflowId);
  if (round) return { runId: round[1], round: Number(round[2]) };
  const run = RUN_WORKFLOW.exec(workflowId);
  return run ? { runId: run[1] } : {};
}

export function activityLogContext(info: ActivityContext['info'], input: unknown): ActivityLogContext {
  return {
    ...parseWorkflowId(info.workflowExecution?.workflowId),
    stage: stageOf(info.activityType, input),
    activity: info.activityType,
    attempt: info.attempt,
    workflowId: info.workflowExecution?.workflowId,
    activityId: info.activityId,
  };
}

/**
 * Activity log records carry run, round and stage beside the SDK's own attributes (activityId, attempt,
 * workflowId...): an outbound interceptor, so `log` from `@temporalio/activity` and deps.log alike get them.
 */
export function activityLogInterceptor(ctx: ActivityContext): ActivityInterceptors {
  let input: unknown;
  return {
    inbound: {
      async execute(call, next) {
        input = call.args[0];
        return next(call);
      },
    },
    outbound: {
      getLogAttributes(attributes, next) {
        const c = activityLogContext(ctx.info, input);
        return next({ ...attributes, runId: c.runId, round: c.round, stage: c.stage, activity: c.activity, attempt: c.attempt });
      },
    },
  };
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Messages the SDK says at every start of an activity-only worker: how they are meant to be, not news. */
const EXPECTED = [/^No workflows registered/];

/** The SDK's Logger interface over pino; metadata becomes fields (with run and round from a workflow id). */
export function sdkLogger(logger: Logger): SdkLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (EXPECTED.some((re) => re.test(message))) return;
    const fields: Record<string, unknown> = { ...meta };
    const workflowId = typeof fields.workflowId === 'string' ? fields.workflowId : undefined;
    const ids = parseWorkflowId(workflowId);
    if (fields.runId === undefined && ids.runId) fields.runId = ids.runId;
    if (fields.round === undefined && ids.round !== undefined) fields.round = ids.round;
    if (typeof fields.activityType === 'string' && fields.activity === undefined) fields.activity = fields.activityType;
    logger[LEVELS[level] ?? 'info'](fields, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/**
 * `ActivityDeps.log` for a worker: inside an activity, through the activity's context logger (so the line carries
 * activityId, attempt, workflowId, and run, round and stage from {@link activityLogInterceptor}); outside one, the
 * given logger.
 */
export function activityAwareLog(logger: Logger, current: () => { log: SdkLogger } = currentActivityContext): (line: string) => void {
  return function log(line: string) {
    let context: { log: SdkLogger } | null = null;
    try {
      context = current();
    } catch {
      context = null; // not inside an activity
    }
    if (context) context.log.info(line);
    else logger.info(line);
  };
}

function currentActivityContext(): { log: SdkLogger } {
  return ActivityContextClass.current();
}
