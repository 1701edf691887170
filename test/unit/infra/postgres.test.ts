import { expect, test } from 'vitest';
import { databaseUrl, redactUrl } from '../../../infra/postgres.js';
import { FLYWHEEL_SEARCH_ATTRIBUTES } from '../../../infra/search-attributes.js';

test('redactUrl hides the password only', () => {
  expect(redactUrl('postgres://user:secret@db.example:5433/flywheel?sslmode=require')).toBe(
    'postgres://user:***@db.example:5433/flywheel?sslmode=require',
  );
  expect(redactUrl('postgres://user@localhost/flywheel')).toBe('postgres://user@localhost/flywheel');
  expect(redactUrl('not a url')).toBe('(an unparsable URL)');
});

test('databaseUrl swaps the database and keeps the rest', () => {
  expect(databaseUrl('postgres://u:p%40ss@127.0.0.1:5555/postgres?x=1', 'flywheel_test_1')).toBe(
    'postgres://u:p%40ss@127.0.0.1:5555/flywheel_test_1?x=1',
  );
});

test('the search attributes match the architecture', () => {
  expect(FLYWHEEL_SEARCH_ATTRIBUTES).toEqual({
    FlywheelRunId: 'Keyword',
    FlywheelRound: 'Int',
    FlywheelStage: 'Keyword',
    FlywheelStatus: 'Keyword',
    FlywheelModel: 'Keyword',
  });
});
