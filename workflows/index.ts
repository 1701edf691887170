// The workflow bundle's entry point: only workflow functions are exported from here.
export { flywheelRun } from './run.js';
export { flywheelRound } from './round.js';
