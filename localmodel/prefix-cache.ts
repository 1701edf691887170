/**
 * Automatic prefix caching as vLLM does it, for `usage.prompt_tokens_details.cached_tokens`: prompts are cut into
 * blocks of 16 tokens, each block keyed by a hash of everything before it and itself; a request's cached tokens
 * are its leading full blocks already seen for the same model (least recently used blocks are evicted past the
 * capacity), and the last prompt token is always computed. A search that re-sends the problem and the partial
 * trace pays, on a GPU, nearly nothing for the part it sent before: this is how the server says so.
 */
export const BLOCK_TOKENS = 16;

export class PrefixCache {
  private readonly blocks = new Map<string, true>();

  constructor(private readonly capacityBlocks = 200_000) {}

  /**
   * Looks up the prompt's leading blocks, then stores all of its full blocks.
   *
   * @example new PrefixCache().admit('m', tokens) // 0 the first time; later the shared full blocks × 16
   */
  admit(model: string, tokens: readonly string[]): number {
    let key = model;
    let cached = 0;
    let hit = true;
    for (let end = BLOCK_TOKENS; end <= tokens.length; end += BLOCK_TOKENS) {
      key = blockKey(key, tokens, end - BLOCK_TOKENS, end);
      if (hit && this.blocks.has(key)) {
        cached = end;
        this.blocks.delete(key); // refresh its place in the LRU order
      } else hit = false;
      this.blocks.set(key, true);
    }
    while (this.blocks.size > this.capacityBlocks) this.blocks.delete(this.blocks.keys().next().value!);
    return Math.min(cached, Math.max(0, tokens.length - 1));
  }
}

/** A 64-bit FNV-1a hash, chained from the previous block's key, as a short string. */
function blockKey(previous: string, tokens: readonly string[], from: number, to: number): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const mix = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    h1 = Math.imul(h1 ^ 0xff, 0x01000193);
  };
  mix(previous);
  for (let i = from; i < to; i++) mix(tokens[i]!);
  return `${(h1 >>> 0).toString(36)}.${(h2 >>> 0).toString(36)}.${to}`;
}

/** `usage` of a request: its prompts' tokens (each admitted to the cache), cached tokens, and completion tokens. */
export function requestUsage(
  cache: PrefixCache | undefined,
  model: string,
  prompts: ReadonlyArray<readonly string[]>,
  completionTokens: number,
) {
  let promptTokens = 0;
  let cachedTokens = 0;
  for (const tokens of prompts) {
    promptTokens += tokens.length;
    cachedTokens += cache ? cache.admit(model, tokens) : 0;
  }
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}
