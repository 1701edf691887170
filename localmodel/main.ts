/**
 * CLI entry: `npx tsx localmodel/main.ts --port 8000 --data-dir .flywheel/localmodel`.
 * The API key comes from LOCALMODEL_API_KEY when set (never from the command line, so it stays out of `ps`).
 */
import { parseArgs } from 'node:util';
import { startLocalModelServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'data-dir': { type: 'string', default: '.flywheel/localmodel' },
    quiet: { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  process.exit(2);
}

const server = await startLocalModelServer({
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
