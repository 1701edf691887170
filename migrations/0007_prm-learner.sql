DROP INDEX "flywheel"."fine_tunes_run_round";--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "learner" text DEFAULT 'policy' NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."models" ADD COLUMN "learner" text DEFAULT 'policy' NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."search_results" ADD COLUMN "scorer_calls" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "fine_tunes_run_round_learner" ON "flywheel"."fine_tunes" USING btree ("run_id","round","learner");