/**
 * CLI entry: `npx tsx localmodel/main.ts --port 8000 --data-dir .flywheel/localmodel [--tokens subword]`.
 * The API key comes from LOCALMODEL_API_KEY when set (never from the command line, so it stays out of `ps`).
 */
import { parseArgs } from 'node:util';
import { startLocalModelServer } from './server.js';
import { TOKEN_MODES, type TokenMode } from './tokenizer.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string', default: '.flywheel/localmodel' },
    quiet: { type: 'boolean', default: false },
    /** steps | subword: what clients see as tokens for every model (default: each model's own). */
    tokens: { type: 'string' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  process.exit(2);
}

if (values.tokens !== undefined && !TOKEN_MODES.includes(values.tokens as TokenMode)) {
  console.error(`--tokens must be one of ${TOKEN_MODES.join(', ')}, got '${values.tokens}'`);
  process.exit(2);
}

const server = await startLocalModelServer({
  tokens: values.tokens as TokenMode | undefined,
  host: values.host,
  port,
  dataDir: values['data-dir']!,
  apiKey: process.env.LOCALMODEL_API_KEY || undefined,
  log: values.quiet ? undefined : (line) => console.error(line),
  // vLLM's switch for its runtime LoRA routes, honoured the same way.
  runtimeLora: /^(1|true)$/i.test(process.env.VLLM_ALLOW_RUNTIME_LORA_UPDATING ?? ''),
});
console.log(`localmodel listening on ${server.url}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
