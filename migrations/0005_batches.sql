CREATE TABLE "flywheel"."batches" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"round_id" bigint NOT NULL,
	"purpose" text NOT NULL,
	"attempt" integer NOT NULL,
	"file_index" integer NOT NULL,
	"input_file_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"status" text DEFAULT 'validating' NOT NULL,
	"requests" integer NOT NULL,
	"completed" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"output_file_id" text,
	"error_file_id" text,
	"ingested_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "flywheel"."batches" ADD CONSTRAINT "batches_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "flywheel"."rounds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "batches_key" ON "flywheel"."batches" USING btree ("round_id","purpose","attempt","file_index");--> statement-breakpoint
CREATE UNIQUE INDEX "batches_batch_id" ON "flywheel"."batches" USING btree ("batch_id");