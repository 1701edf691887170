CREATE SCHEMA IF NOT EXISTS "flywheel";
--> statement-breakpoint
CREATE TABLE "flywheel"."dataset_items" (
	"dataset_id" bigint NOT NULL,
	"trace_id" bigint NOT NULL,
	CONSTRAINT "dataset_items_dataset_id_trace_id_pk" PRIMARY KEY("dataset_id","trace_id")
);
--> statement-breakpoint
CREATE TABLE "flywheel"."datasets" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"round" integer NOT NULL,
	"filter" jsonb NOT NULL,
	"items" integer DEFAULT 0 NOT NULL,
	"problems" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."evals" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"round_id" bigint NOT NULL,
	"model" text NOT NULL,
	"split" text NOT NULL,
	"metric" text NOT NULL,
	"k" integer DEFAULT 0 NOT NULL,
	"strategy" text DEFAULT 'none' NOT NULL,
	"value" double precision NOT NULL,
	"problems" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."fine_tunes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"round" integer NOT NULL,
	"backend" text NOT NULL,
	"external_job_id" text,
	"training_file" text,
	"status" text NOT NULL,
	"base_model" text NOT NULL,
	"result_model" text,
	"dataset_id" bigint,
	"hyperparameters" jsonb NOT NULL,
	"error" text,
	"superseded_job_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."model_errors" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"round_id" bigint NOT NULL,
	"problem_id" bigint NOT NULL,
	"purpose" text NOT NULL,
	"strategy" text NOT NULL,
	"attempt" integer NOT NULL,
	"error" text NOT NULL,
	"final" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."models" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"round" integer NOT NULL,
	"name" text NOT NULL,
	"provider" text NOT NULL,
	"base_url" text NOT NULL,
	"parent_name" text,
	"dataset_id" bigint,
	"fine_tune_id" bigint,
	"promoted" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."problem_budgets" (
	"round_id" bigint NOT NULL,
	"problem_id" bigint NOT NULL,
	"bin" text NOT NULL,
	"solve_rate" real NOT NULL,
	"samples" integer NOT NULL,
	"strategy" text NOT NULL,
	"search_budget" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "problem_budgets_round_id_problem_id_pk" PRIMARY KEY("round_id","problem_id")
);
--> statement-breakpoint
CREATE TABLE "flywheel"."problems" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_set" text NOT NULL,
	"external_id" text NOT NULL,
	"split" text NOT NULL,
	"position" integer NOT NULL,
	"prompt" text NOT NULL,
	"reference" jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."round_stages" (
	"round_id" bigint NOT NULL,
	"stage" text NOT NULL,
	"status" text NOT NULL,
	"result" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "round_stages_round_id_stage_pk" PRIMARY KEY("round_id","stage")
);
--> statement-breakpoint
CREATE TABLE "flywheel"."rounds" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"index" integer NOT NULL,
	"model" text,
	"sampler" text,
	"stage" text DEFAULT 'planned' NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"planned" integer DEFAULT 0 NOT NULL,
	"stats" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."runs" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"config" jsonb NOT NULL,
	"task_set" text NOT NULL,
	"status" text DEFAULT 'created' NOT NULL,
	"base_model" text NOT NULL,
	"current_model" text NOT NULL,
	"rounds" integer NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."search_results" (
	"round_id" bigint NOT NULL,
	"problem_id" bigint NOT NULL,
	"purpose" text NOT NULL,
	"strategy" text NOT NULL,
	"trace_id" bigint,
	"answer" text,
	"votes" integer DEFAULT 0 NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	"tokens" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "search_results_round_id_problem_id_purpose_strategy_pk" PRIMARY KEY("round_id","problem_id","purpose","strategy")
);
--> statement-breakpoint
CREATE TABLE "flywheel"."traces" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"round_id" bigint NOT NULL,
	"problem_id" bigint NOT NULL,
	"purpose" text NOT NULL,
	"strategy" text NOT NULL,
	"sample_index" integer NOT NULL,
	"model" text NOT NULL,
	"text" text NOT NULL,
	"logprob" real,
	"score" real,
	"prompt_tokens" integer DEFAULT 0 NOT NULL,
	"completion_tokens" integer DEFAULT 0 NOT NULL,
	"latency_ms" integer DEFAULT 0 NOT NULL,
	"finish_reason" text,
	"error" text,
	"flags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flywheel"."verdicts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"trace_id" bigint NOT NULL,
	"verifier" text NOT NULL,
	"verifier_version" text NOT NULL,
	"score" real NOT NULL,
	"correct" boolean NOT NULL,
	"answer" text,
	"detail" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "flywheel"."dataset_items" ADD CONSTRAINT "dataset_items_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "flywheel"."datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."dataset_items" ADD CONSTRAINT "dataset_items_trace_id_traces_id_fk" FOREIGN KEY ("trace_id") REFERENCES "flywheel"."traces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."datasets" ADD CONSTRAINT "datasets_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "flywheel"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."evals" ADD CONSTRAINT "evals_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD CONSTRAINT "fine_tunes_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "flywheel"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD CONSTRAINT "fine_tunes_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "flywheel"."datasets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."model_errors" ADD CONSTRAINT "model_errors_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."model_errors" ADD CONSTRAINT "model_errors_problem_id_problems_id_fk" FOREIGN KEY ("problem_id") REFERENCES "flywheel"."problems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."models" ADD CONSTRAINT "models_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "flywheel"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."problem_budgets" ADD CONSTRAINT "problem_budgets_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."problem_budgets" ADD CONSTRAINT "problem_budgets_problem_id_problems_id_fk" FOREIGN KEY ("problem_id") REFERENCES "flywheel"."problems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."round_stages" ADD CONSTRAINT "round_stages_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."rounds" ADD CONSTRAINT "rounds_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "flywheel"."runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."search_results" ADD CONSTRAINT "search_results_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."search_results" ADD CONSTRAINT "search_results_problem_id_problems_id_fk" FOREIGN KEY ("problem_id") REFERENCES "flywheel"."problems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."search_results" ADD CONSTRAINT "search_results_trace_id_traces_id_fk" FOREIGN KEY ("trace_id") REFERENCES "flywheel"."traces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."traces" ADD CONSTRAINT "traces_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."traces" ADD CONSTRAINT "traces_problem_id_problems_id_fk" FOREIGN KEY ("problem_id") REFERENCES "flywheel"."problems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flywheel"."verdicts" ADD CONSTRAINT "verdicts_trace_id_traces_id_fk" FOREIGN KEY ("trace_id") REFERENCES "flywheel"."traces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "datasets_run_round" ON "flywheel"."datasets" USING btree ("run_id","round");--> statement-breakpoint
CREATE UNIQUE INDEX "evals_key" ON "flywheel"."evals" USING btree ("round_id","model","split","metric","k","strategy");--> statement-breakpoint
CREATE UNIQUE INDEX "fine_tunes_run_round" ON "flywheel"."fine_tunes" USING btree ("run_id","round");--> statement-breakpoint
CREATE INDEX "model_errors_round" ON "flywheel"."model_errors" USING btree ("round_id");--> statement-breakpoint
CREATE UNIQUE INDEX "models_run_name" ON "flywheel"."models" USING btree ("run_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "problems_task_set_external_id" ON "flywheel"."problems" USING btree ("task_set","external_id");--> statement-breakpoint
CREATE INDEX "problems_task_set_split_position" ON "flywheel"."problems" USING btree ("task_set","split","position");--> statement-breakpoint
CREATE UNIQUE INDEX "rounds_run_index" ON "flywheel"."rounds" USING btree ("run_id","index");--> statement-breakpoint
CREATE UNIQUE INDEX "traces_sample_key" ON "flywheel"."traces" USING btree ("round_id","problem_id","purpose","strategy","sample_index");--> statement-breakpoint
CREATE INDEX "traces_round_purpose" ON "flywheel"."traces" USING btree ("round_id","purpose");--> statement-breakpoint
CREATE UNIQUE INDEX "verdicts_trace_verifier" ON "flywheel"."verdicts" USING btree ("trace_id","verifier","verifier_version");