/**
 * Whole-trace samplers for best-of-N and majority vote: a step model's rollout from the empty trace (completions
 * API), or chat completions through the flywheel's shared `sampleChat`.
 */
import type OpenAI from 'openai';
import type { RetryOptions } from '../llm/client.js';
import { sampleChat } from '../llm/sample.js';
import { DEFAULT_FINAL_LINE } from './completions-model.js';
import type { GeneratedSequence, StepModel, TraceSampler } from './types.js';

/** Samples whole traces as rollouts of a step model from the empty trace. */
export function samplerFromStepModel(model: StepModel): TraceSampler {
  return { sample: (prompt, request) => model.rollout(prompt, '', request) };
}

export interface ChatSamplerOptions {
  model: string;
  maxTokens: number;
  systemPrompt?: string;
  /** Ask for token log-probabilities (for the `logprob` scorer); default false. */
  logprobs?: boolean;
  finalLine?: RegExp;
  /** Default: 3 retries. */
  retry?: RetryOptions;
}

/**
 * Samples whole traces through chat completions (one request for n samples).
 *
 * @example const sampler = createChatSampler(client, { model: 'gpt-4o-mini', maxTokens: 512 });
 */
export function createChatSampler(client: OpenAI, options: ChatSamplerOptions): TraceSampler {
  const finalLine = options.finalLine ?? DEFAULT_FINAL_LINE;
  return {
    async sample(prompt, request) {
      const res = await sampleChat(
        client,
        {
          model: options.model,
          prompt,
          systemPrompt: options.systemPrompt,
          n: request.n,
          temperature: request.temperature,
          maxTokens: Math.min(options.maxTokens, request.maxTokens ?? Infinity),
          seed: request.seed,
          logprobs: options.logprobs,
        },
        options.retry ?? { maxRetries: 3 },
      );
      const sequences = res.samples.map((s): GeneratedSequence => {
        const pieces = s.text.replace(/\r/g, '').split('\n');
        if (pieces.length > 1 && pieces[pieces.length - 1] === '') pieces.pop();
        const finished = s.finishReason === 'stop';
        const lines = pieces.map((text, i) => ({
          text,
          logprob: null,
          alternatives: [],
          final: finalLine.test(text) || (finished && i === pieces.length - 1),
        }));
        return { lines, finished, meanLogprob: s.logprob };
      });
      return { sequences, completionTokens: res.completionTokens, promptTokens: res.promptTokens, cachedPromptTokens: null };
    },
  };
}

/** The trace text of a sampled sequence (from the empty trace). */
export function sequenceText(sequence: GeneratedSequence): string {
  return sequence.lines.map((l) => l.text).join('\n');
}
