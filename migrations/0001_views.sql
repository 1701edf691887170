-- Views for people who inspect runs with psql. Start with: SELECT * FROM flywheel.round_metrics;

-- One row per round: how many samples it drew, verified and got right (traces = problems × samples), what
-- step-level search added, its trainer jobs, and the held-out metrics of the model it trained (round 0: the base
-- model), raw and with search.
CREATE OR REPLACE VIEW flywheel.round_metrics AS
SELECT
  r.run_id,
  r.index AS round,
  r.model,
  r.sampler,
  r.stage,
  r.status,
  r.planned,
  coalesce(t.traces, 0) AS traces,
  coalesce(t.verified, 0) AS verified,
  coalesce(t.correct, 0) AS correct,
  coalesce(t.errors, 0) AS errors,
  coalesce(f.jobs, 0) AS fine_tune_jobs,
  d.items AS dataset_items,
  (SELECT e.value FROM flywheel.evals e
    WHERE e.round_id = r.id AND e.model = r.model AND e.metric = 'greedy_pass@1' AND e.strategy = 'none') AS greedy_pass_at_1,
  (SELECT jsonb_object_agg(e.k::text, e.value ORDER BY e.k) FROM flywheel.evals e
    WHERE e.round_id = r.id AND e.model = r.model AND e.metric = 'pass@k' AND e.strategy = 'none') AS pass_at_k,
  (SELECT jsonb_object_agg(e.k::text, e.value ORDER BY e.k) FROM flywheel.evals e
    WHERE e.round_id = r.id AND e.model = r.model AND e.metric = 'maj@k' AND e.strategy = 'none') AS maj_at_k,
  (r.stats -> 'promote' ->> 'promoted')::boolean AS promoted,
  coalesce(st.traces, 0) AS search_traces,
  coalesce(st.problems_solved, 0) AS search_problems_solved,
  coalesce(ra.traces, 0) AS rationalized,
  coalesce(ra.correct, 0) AS rationalized_correct,
  se.strategy AS search_strategy,
  se.k AS search_budget,
  se.value AS search_accuracy,
  (SELECT e.value FROM flywheel.evals e WHERE e.round_id = r.id AND e.model = r.model AND e.metric = 'search_calls'
     AND e.strategy = se.strategy AND e.k = se.k) AS search_mean_calls,
  (SELECT count(*) FROM flywheel.model_errors me WHERE me.round_id = r.id) AS model_errors,
  r.stats -> 'eval' -> 'coverage' AS coverage,
  r.updated_at
FROM flywheel.rounds r
LEFT JOIN LATERAL (
  SELECT count(*) AS traces,
         count(*) FILTER (WHERE v.verified) AS verified,
         count(*) FILTER (WHERE v.correct) AS correct,
         count(*) FILTER (WHERE tr.error IS NOT NULL) AS errors
  FROM flywheel.traces tr
  LEFT JOIN LATERAL (
    SELECT true AS verified, bool_or(vd.correct) AS correct FROM flywheel.verdicts vd WHERE vd.trace_id = tr.id
    HAVING count(*) > 0
  ) v ON true
  WHERE tr.round_id = r.id AND tr.purpose = 'train' AND tr.strategy = 'sample'
) t ON true
LEFT JOIN LATERAL (
  -- Traces that step-level search added on train problems, and the problems it solved.
  SELECT count(*) AS traces, count(DISTINCT tr.problem_id) FILTER (WHERE vd.correct) AS problems_solved
  FROM flywheel.traces tr
  LEFT JOIN flywheel.verdicts vd ON vd.trace_id = tr.id
  WHERE tr.round_id = r.id AND tr.purpose = 'train' AND tr.strategy NOT IN ('sample', 'greedy', 'rationalize')
) st ON true
LEFT JOIN LATERAL (
  -- STaR: rationales written with the answer as a hint, and how many of them verified.
  SELECT count(*) AS traces, count(*) FILTER (WHERE vd.correct) AS correct
  FROM flywheel.traces tr
  LEFT JOIN flywheel.verdicts vd ON vd.trace_id = tr.id
  WHERE tr.round_id = r.id AND tr.purpose = 'train' AND tr.strategy = 'rationalize'
) ra ON true
LEFT JOIN LATERAL (
  SELECT e.strategy, e.k, e.value FROM flywheel.evals e
  WHERE e.round_id = r.id AND e.model = r.model AND e.metric = 'search_accuracy'
  ORDER BY e.k DESC LIMIT 1
) se ON true
LEFT JOIN LATERAL (
  SELECT count(ft.external_job_id) + coalesce(sum(jsonb_array_length(ft.superseded_job_ids)), 0) AS jobs
  FROM flywheel.fine_tunes ft WHERE ft.run_id = r.run_id AND ft.round = r.index
) f ON true
LEFT JOIN flywheel.datasets d ON d.run_id = r.run_id AND d.round = r.index;
--> statement-breakpoint

-- Every training example with its text: which trace trained which model, sampled by whom, in which round.
CREATE OR REPLACE VIEW flywheel.training_examples AS
SELECT
  d.run_id,
  d.round AS trained_in_round,
  m.name AS trained_model,
  t.id AS trace_id,
  p.external_id AS problem,
  p.prompt,
  t.text AS completion,
  t.model AS sampled_by,
  sr.index AS sampled_in_round,
  t.strategy,
  t.sample_index,
  (t.flags ->> 'rationalized')::boolean IS TRUE AS rationalized,
  v.score AS verifier_score
FROM flywheel.dataset_items di
JOIN flywheel.datasets d ON d.id = di.dataset_id
JOIN flywheel.traces t ON t.id = di.trace_id
JOIN flywheel.rounds sr ON sr.id = t.round_id
JOIN flywheel.problems p ON p.id = t.problem_id
LEFT JOIN flywheel.models m ON m.dataset_id = d.id AND m.run_id = d.run_id
LEFT JOIN LATERAL (
  SELECT vd.score FROM flywheel.verdicts vd WHERE vd.trace_id = t.id ORDER BY vd.created_at DESC LIMIT 1
) v ON true;
--> statement-breakpoint

-- How hard each problem was in each round: samples drawn (n), samples correct (c), and the solve rate.
CREATE OR REPLACE VIEW flywheel.problem_difficulty AS
SELECT
  r.run_id,
  r.index AS round,
  p.id AS problem_id,
  p.external_id AS problem,
  p.split,
  t.purpose,
  count(*) AS n,
  count(*) FILTER (WHERE v.correct) AS c,
  round((count(*) FILTER (WHERE v.correct))::numeric / count(*), 4) AS solve_rate
FROM flywheel.traces t
JOIN flywheel.rounds r ON r.id = t.round_id
JOIN flywheel.problems p ON p.id = t.problem_id
LEFT JOIN LATERAL (
  SELECT bool_or(vd.correct) AS correct FROM flywheel.verdicts vd WHERE vd.trace_id = t.id
) v ON true
WHERE t.strategy = 'sample'
GROUP BY r.run_id, r.index, p.id, p.external_id, p.split, t.purpose;
--> statement-breakpoint

-- Lineage: each model, the model it was trained from, the dataset and how many traces from which rounds.
CREATE OR REPLACE VIEW flywheel.model_lineage AS
WITH RECURSIVE chain AS (
  SELECT m.run_id, m.name AS model, m.name AS ancestor, m.parent_name, m.dataset_id, 0 AS depth
  FROM flywheel.models m
  UNION ALL
  SELECT c.run_id, c.model, p.name, p.parent_name, p.dataset_id, c.depth + 1
  FROM chain c
  JOIN flywheel.models p ON p.run_id = c.run_id AND p.name = c.parent_name
  WHERE c.depth < 1000
)
SELECT
  c.run_id,
  c.model,
  c.depth,
  c.ancestor,
  c.parent_name AS trained_from,
  c.dataset_id,
  d.round AS dataset_round,
  d.items AS dataset_items,
  d.filter AS dataset_filter,
  (SELECT jsonb_object_agg(x.idx::text, x.n) FROM (
     SELECT sr.index AS idx, count(*) AS n
     FROM flywheel.dataset_items di
     JOIN flywheel.traces t ON t.id = di.trace_id
     JOIN flywheel.rounds sr ON sr.id = t.round_id
     WHERE di.dataset_id = c.dataset_id
     GROUP BY sr.index) x) AS traces_by_round
FROM chain c
LEFT JOIN flywheel.datasets d ON d.id = c.dataset_id;
