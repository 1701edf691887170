/** The code verifier: programs from model output, tested in the sandbox. */
export { createCodeVerifier, CODE_VERSION, type CodeVerifierOptions } from './verifier.js';
export { extractProgram, outputsMatch, parseCodeReference, programKey, type CodeReference, type IoCase, type TestPlan } from './program.js';
export type { CodeLanguage } from './languages.js';
