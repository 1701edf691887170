/** Where infra reports what it did (picked another port, installed a binary, initialised a database). */
export type Log = (message: string) => void;

/** The default: one line on stderr, so stdout stays free for a command's own output. */
export const stderrLog: Log = function stderrLog(message) {
  process.stderr.write(`[flywheel] ${message}\n`);
};
