export { connectDatabase, type Database, type Db } from './client.js';
export * as schema from './schema.js';
export * from './runs.js';
export * from './problems.js';
export * from './rounds.js';
export * from './traces.js';
export * from './datasets.js';
export * from './fine-tunes.js';
export * from './evals.js';
