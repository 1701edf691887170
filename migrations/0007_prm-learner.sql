DROP INDEX "flywheel"."fine_tunes_run_round";--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "learner" text DEFAULT 'policy' NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."models" ADD COLUMN "learner" text DEFAULT 'policy' NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."search_results" ADD COLUMN "scorer_calls" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "fine_tunes_run_round_learner" ON "flywheel"."fine_tunes" USING btree ("run_id","round","learner");--> statement-breakpoint
-- model_lineage again, with each model's learner (policy or prm): both learners of every round, side by side.
CREATE OR REPLACE VIEW flywheel.model_lineage AS
WITH RECURSIVE chain AS (
  SELECT m.run_id, m.name AS model, m.name AS ancestor, m.parent_name, m.dataset_id, 0 AS depth, m.learner
  FROM flywheel.models m
  UNION ALL
  SELECT c.run_id, c.model, p.name, p.parent_name, p.dataset_id, c.depth + 1, c.learner
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
     GROUP BY sr.index) x) AS step_labels_by_round,
  c.learner
FROM chain c
LEFT JOIN flywheel.datasets d ON d.id = c.dataset_id;
