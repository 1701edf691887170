-- Costs per round and stage, and a read-only role for people who inspect runs with SQL.

-- The price of a model under a run's costs.models: its exact key, else the longest `prefix*` key it starts with
-- (lib/cost/price.ts priceFor is the same rule; the tests hold them to each other).
CREATE OR REPLACE FUNCTION flywheel.model_price(models jsonb, model text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(models -> model, (
    SELECT p.value FROM jsonb_each(coalesce(models, '{}'::jsonb)) p
    WHERE right(p.key, 1) = '*' AND starts_with(model, left(p.key, -1))
    ORDER BY length(p.key) DESC LIMIT 1))
$$;
--> statement-breakpoint

-- Tokens and cost per round, stage and model (samples: traces drawn; search: generated sequences; fine-tune: jobs), at the prices of the run's config (NULL cost: no price for it).
-- generate, rationalize and evaluate: the prompt and completion tokens of their traces; search: the completion
-- tokens of every step-level search call (search_results.tokens; their prompts are not recorded, so input is 0;
-- best-of-n and majority only rank traces already counted); fine-tune: trained tokens = the training set's tokens
-- × epochs (1 when the trainer chose), hours = the job's wall clock (until now while it runs).
CREATE OR REPLACE VIEW flywheel.round_costs AS
WITH usage AS (
  SELECT r.run_id, r.index AS round,
         CASE WHEN t.purpose = 'eval' THEN 'evaluate' WHEN t.strategy = 'rationalize' THEN 'rationalize' ELSE 'generate' END AS stage,
         t.model,
         count(*) AS samples,
         sum(t.prompt_tokens)::bigint AS input_tokens,
         sum(t.completion_tokens)::bigint AS output_tokens,
         0::bigint AS trained_tokens,
         0::double precision AS hours
  FROM flywheel.traces t
  JOIN flywheel.rounds r ON r.id = t.round_id
  WHERE t.strategy IN ('sample', 'greedy', 'rationalize')
  GROUP BY 1, 2, 3, 4
  UNION ALL
  SELECT r.run_id, r.index, 'search', CASE WHEN s.purpose = 'train' THEN r.sampler ELSE r.model END,
         sum(s.calls), 0, sum(s.tokens)::bigint, 0, 0
  FROM flywheel.search_results s
  JOIN flywheel.rounds r ON r.id = s.round_id
  WHERE s.strategy NOT IN ('best-of-n', 'majority')
  GROUP BY 1, 2, 3, 4
  UNION ALL
  SELECT ft.run_id, ft.round, 'fine-tune', ft.base_model, 1, 0, 0,
         (coalesce(ds.tokens, 0) * coalesce((ft.hyperparameters ->> 'nEpochs')::int, 1))::bigint,
         extract(epoch FROM (CASE WHEN ft.status IN ('succeeded', 'failed', 'cancelled') THEN ft.updated_at ELSE now() END) - ft.created_at) / 3600
  FROM flywheel.fine_tunes ft
  LEFT JOIN LATERAL (
    SELECT sum(t.prompt_tokens + t.completion_tokens) AS tokens
    FROM flywheel.dataset_items di JOIN flywheel.traces t ON t.id = di.trace_id
    WHERE di.dataset_id = ft.dataset_id
  ) ds ON true
)
SELECT
  u.run_id,
  u.round,
  u.stage,
  u.model,
  u.samples,
  u.input_tokens,
  u.output_tokens,
  u.input_tokens + u.output_tokens AS tokens,
  u.trained_tokens,
  u.hours,
  CASE
    WHEN u.stage = 'fine-tune' THEN
      CASE
        WHEN tr.price ? 'perGpuHour' THEN u.hours * coalesce((tr.price ->> 'gpus')::int, 1) * (tr.price ->> 'perGpuHour')::double precision
        WHEN tr.price ? 'perMTrainedTokens' THEN u.trained_tokens * (tr.price ->> 'perMTrainedTokens')::double precision / 1000000
      END
    ELSE (u.input_tokens * (mp.price ->> 'inputPerMTok')::double precision
          + u.output_tokens * (mp.price ->> 'outputPerMTok')::double precision) / 1000000
  END AS cost
FROM usage u
JOIN flywheel.runs ru ON ru.id = u.run_id
LEFT JOIN LATERAL (SELECT flywheel.model_price(ru.config -> 'costs' -> 'models', u.model) AS price) mp ON true
LEFT JOIN LATERAL (SELECT ru.config -> 'costs' -> 'trainer' AS price) tr ON true;
--> statement-breakpoint

-- The read-only role: SELECT on every flywheel table and view (now and later: default privileges), USAGE on the
-- schema, nothing else. Roles are cluster-wide and many databases share a server (tests, teams), so each step
-- tolerates the role existing or being created at the same moment; grants are per database. An owner without
-- CREATEROLE (a managed Postgres) skips creating the roles with a notice: grant them as README.md says.
-- flywheel_reader_login logs in without a password: it works where the server trusts local connections, and a
-- server that asks for passwords refuses it (give people the flywheel_reader role instead).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flywheel_reader') THEN
    BEGIN
      CREATE ROLE flywheel_reader NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'flywheel: % may not create roles; the read-only role flywheel_reader was not created (see README.md, read-only SQL)', current_user;
        RETURN;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flywheel_reader_login') THEN
    BEGIN
      CREATE ROLE flywheel_reader_login LOGIN INHERIT IN ROLE flywheel_reader;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN RAISE NOTICE 'flywheel: % may not create roles; flywheel_reader_login was not created', current_user;
    END;
  END IF;
  GRANT USAGE ON SCHEMA flywheel TO flywheel_reader;
  GRANT SELECT ON ALL TABLES IN SCHEMA flywheel TO flywheel_reader;
  ALTER DEFAULT PRIVILEGES IN SCHEMA flywheel GRANT SELECT ON TABLES TO flywheel_reader;
END $$;
