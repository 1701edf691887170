CREATE TABLE "flywheel"."prm_dataset_items" (
	"dataset_id" bigint NOT NULL,
	"step_id" bigint NOT NULL,
	"problem_id" bigint NOT NULL,
	"depth" integer NOT NULL,
	"rollouts" integer NOT NULL,
	"verified_rollouts" integer NOT NULL,
	"soft_label" double precision NOT NULL,
	"label" boolean NOT NULL,
	"complete" boolean DEFAULT false NOT NULL,
	"example" boolean DEFAULT false NOT NULL,
	CONSTRAINT "prm_dataset_items_dataset_id_step_id_pk" PRIMARY KEY("dataset_id","step_id")
);
--> statement-breakpoint
CREATE TABLE "flywheel"."search_steps" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"round_id" bigint NOT NULL,
	"problem_id" bigint NOT NULL,
	"purpose" text NOT NULL,
	"strategy" text NOT NULL,
	"source" text NOT NULL,
	"prefix_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"step_hash" text NOT NULL,
	"step" text NOT NULL,
	"depth" integer NOT NULL,
	"visits" integer DEFAULT 0 NOT NULL,
	"rollouts" integer DEFAULT 0 NOT NULL,
	"verified_rollouts" integer,
	"value" double precision,
	"final_verdict" boolean,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "flywheel"."datasets_run_round";--> statement-breakpoint
ALTER TABLE "flywheel"."datasets" ADD COLUMN "kind" text DEFAULT 'policy' NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."prm_dataset_items" ADD CONSTRAINT "prm_dataset_items_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "flywheel"."datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."prm_dataset_items" ADD CONSTRAINT "prm_dataset_items_step_id_search_steps_id_fk" FOREIGN KEY ("step_id") REFERENCES "flywheel"."search_steps"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."prm_dataset_items" ADD CONSTRAINT "prm_dataset_items_problem_id_problems_id_fk" FOREIGN KEY ("problem_id") REFERENCES "flywheel"."problems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."search_steps" ADD CONSTRAINT "search_steps_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."search_steps" ADD CONSTRAINT "search_steps_problem_id_problems_id_fk" FOREIGN KEY ("problem_id") REFERENCES "flywheel"."problems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "prm_dataset_items_problem" ON "flywheel"."prm_dataset_items" USING btree ("dataset_id","problem_id");--> statement-breakpoint
CREATE UNIQUE INDEX "search_steps_key" ON "flywheel"."search_steps" USING btree ("round_id","problem_id","purpose","strategy","prefix_hash","step_hash");--> statement-breakpoint
CREATE INDEX "search_steps_problem" ON "flywheel"."search_steps" USING btree ("problem_id");--> statement-breakpoint
CREATE UNIQUE INDEX "datasets_run_round_kind" ON "flywheel"."datasets" USING btree ("run_id","round","kind");--> statement-breakpoint

-- round_metrics again, joined to the round's policy dataset only (a round also has a 'prm' one now).
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
LEFT JOIN flywheel.datasets d ON d.run_id = r.run_id AND d.round = r.index AND d.kind = 'policy';
--> statement-breakpoint

-- Step labels for people: every step a search expanded, with its share of verified rollouts (the soft label) and
-- the hard label the PRM dataset would give it (the final verdict, else soft >= 0.5; null when it has neither).
CREATE OR REPLACE VIEW flywheel.step_labels AS
SELECT
  r.run_id,
  r.index AS round,
  p.external_id AS problem,
  p.split,
  s.purpose,
  s.strategy,
  s.source,
  s.depth,
  s.prefix,
  s.step,
  s.visits,
  s.rollouts,
  s.verified_rollouts,
  s.value,
  s.final_verdict,
  CASE WHEN s.rollouts > 0 AND s.verified_rollouts IS NOT NULL THEN s.verified_rollouts::float8 / s.rollouts END AS soft_label,
  coalesce(s.final_verdict, CASE WHEN s.rollouts > 0 AND s.verified_rollouts IS NOT NULL THEN s.verified_rollouts::float8 / s.rollouts >= 0.5 END) AS label,
  s.id AS step_id,
  s.problem_id
FROM flywheel.search_steps s
JOIN flywheel.rounds r ON r.id = s.round_id
JOIN flywheel.problems p ON p.id = s.problem_id;
--> statement-breakpoint

-- model_lineage again, with the step labels (per round they came from) of a model trained on a PRM dataset.
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
     GROUP BY sr.index) x) AS traces_by_round,
  (SELECT jsonb_object_agg(x.idx::text, x.n) FROM (
     SELECT sr.index AS idx, count(*) AS n
     FROM flywheel.prm_dataset_items pi
     JOIN flywheel.search_steps ss ON ss.id = pi.step_id
     JOIN flywheel.rounds sr ON sr.id = ss.round_id
     WHERE pi.dataset_id = c.dataset_id
     GROUP BY sr.index) x) AS step_labels_by_round
FROM chain c
LEFT JOIN flywheel.datasets d ON d.id = c.dataset_id;
