/**
 * Our custom search attributes as the dev server and the operator service spell their types. Derived from the
 * keys in `workflows/shared.ts`, where they are defined once. `FlywheelRound` is an Int (range queries:
 * `FlywheelRound >= 3`); the others are Keywords (exact match, filterable in the UI).
 */
import { SEARCH_ATTRIBUTES } from '../workflows/shared.js';

/** The search attribute types we use (the dev server's `--search-attribute` spelling). */
export type SearchAttributeKind = 'Keyword' | 'Int';

export const FLYWHEEL_SEARCH_ATTRIBUTES: Record<string, SearchAttributeKind> = Object.fromEntries(
  Object.values(SEARCH_ATTRIBUTES).map((key) => [key.name, key.type === 'INT' ? 'Int' : 'Keyword']),
);
