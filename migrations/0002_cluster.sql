ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "launcher" text;--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "progress" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "exit_code" integer;--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "log_tail" text;--> statement-breakpoint
ALTER TABLE "flywheel"."fine_tunes" ADD COLUMN "checkpoint_path" text;--> statement-breakpoint
ALTER TABLE "flywheel"."models" ADD COLUMN "kind" text;--> statement-breakpoint
ALTER TABLE "flywheel"."models" ADD COLUMN "served_at" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "flywheel"."models" ADD COLUMN "checkpoint_path" text;