#!/usr/bin/env python3
"""Process reward model training of a Hugging Face model on flywheel's stepwise JSONL, with TRL's PRMTrainer.

The reference PRM trainer for `finetune.prm.backend: command`: it reads the round's PRM dataset (one
`{"prompt", "completions", "labels"}` per line, the stepwise format `flywheel export --format prm` writes and
TRL's PRMTrainer reads; an optional `soft_labels` column is dropped, TRL trains on the hard labels), trains a
token-classification head (2 labels: bad / good step, predicted at each step separator), LoRA (peft) or full
weights, writes the checkpoint and flywheel's `manifest.json`, and prints the progress protocol, one JSON line per
logging step:

    {"step": 20, "loss": 0.412, "epoch": 0.4, "lr": 1.9e-05}

Usage (the placeholders are filled by flywheel):

    python trainers/prm_trl.py --data {dataset} --output {outputDir} --base-model {baseModel} \
        --init {fromCheckpoint} --mode lora --epochs {epochs} --lr-multiplier {learningRateMultiplier} \
        --batch-size {batchSize} --seed {seed}

Serve the result as a reward model with vLLM's pooling runner (`vllm serve <dir> --task reward`, or `--task score`
for a cross-encoder) and point `search.step.rewardModel` (format `vllm-score`) at it. Needs torch, transformers,
datasets, trl (≥ 0.12, PRMTrainer) and, for LoRA, peft. Exit codes: 0 trained and wrote the manifest, 2 bad
arguments or data, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py beside this script, from any cwd
from common import DEFAULT_LR, InputCheck, ProgressLog, checkpoint_files, checkpoint_kind, progress_file_argument, trainer_arguments, write_manifest  # noqa: E402

check = InputCheck("prm_trl")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_arguments(
        __doc__.split("\n\n")[0],
        data_help="stepwise JSONL ({prompt, completions, labels} per line)",
        init_help="a PRM checkpoint to continue from (peft adapter or model dir)",
    )
    p.add_argument("--lr-multiplier", default="")
    p.add_argument("--batch-size", default="")
    p.add_argument("--seed", default="0")
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--step-separator", default="\n", help="what TRL puts between steps (the label positions)")
    progress_file_argument(p)
    return p.parse_args(argv)


def read_stepwise(path: str) -> list[dict]:
    """The lines of the file, checked: each names its line number when it is wrong."""
    rows = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        check.fail(f"cannot read {path}: {err.strerror}")
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as err:
            check.fail(f"{path}: line {number} is not valid JSON: {err.msg}")
        prompt, completions, labels = row.get("prompt"), row.get("completions"), row.get("labels")
        if not isinstance(prompt, str):
            check.fail(f'{path}: line {number}: "prompt" must be a string')
        if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
            check.fail(f'{path}: line {number}: "completions" must be a list of step strings')
        if not isinstance(labels, list) or len(labels) != len(completions):
            check.fail(f'{path}: line {number}: "labels" must have one label per completion')
        rows.append({"prompt": prompt, "completions": completions, "labels": [bool(x) for x in labels]})
    if not rows:
        check.fail(f"{path} has no examples")
    return rows


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    epochs = check.optional(args.epochs, int, "--epochs") or 1
    batch_size = check.optional(args.batch_size, int, "--batch-size") or 8
    lr = DEFAULT_LR[args.mode] * (check.optional(args.lr_multiplier, float, "--lr-multiplier") or 1.0)
    seed = check.optional(args.seed, int, "--seed") or 0
    rows = read_stepwise(args.data)

    # Heavy imports after the arguments and data are checked, so bad input fails fast with exit 2.
    from datasets import Dataset
    from transformers import AutoModelForTokenClassification, AutoTokenizer, TrainerCallback
    from trl import PRMConfig, PRMTrainer

    progress = ProgressLog(args.progress_file)

    class Progress(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kwargs):
            if not logs or "loss" not in logs:
                return
            progress.emit({"step": state.global_step, "loss": logs["loss"], "epoch": logs.get("epoch"), "lr": logs.get("learning_rate")})

    tokenizer = AutoTokenizer.from_pretrained(args.init or args.base_model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForTokenClassification.from_pretrained(args.init if args.init and args.mode == "full" else args.base_model, num_labels=2)
    model.config.pad_token_id = tokenizer.pad_token_id
    peft_config = None
    if args.mode == "lora":
        from peft import LoraConfig, PeftModel

        if args.init:
            model = PeftModel.from_pretrained(model, args.init, is_trainable=True)
        else:
            peft_config = LoraConfig(task_type="TOKEN_CLS", r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear")

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    config = PRMConfig(
        output_dir=str(output / "trainer"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        seed=seed,
        max_length=args.max_length,
        step_separator=args.step_separator,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
    )
    started = time.perf_counter()
    trainer = PRMTrainer(
        model=model,
        args=config,
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(rows),
        peft_config=peft_config,
        callbacks=[Progress()],
    )
    result = trainer.train()
    trainer.save_model(str(output))
    tokenizer.save_pretrained(output)
    seconds = time.perf_counter() - started
    manifest = {
        "kind": checkpoint_kind(args.mode),
        "format": "peft-prm" if args.mode == "lora" else "hf-prm",
        "baseModel": args.base_model,
        # The trainer's own output_dir (trainer/) is scratch, not the checkpoint.
        "files": checkpoint_files(output, skip_dirs=("trainer",)),
        "metrics": {"finalLoss": float(result.training_loss), "steps": int(result.global_step), "traces": len(rows), "seconds": round(seconds, 3)},
    }
    write_manifest(output, manifest)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001 - the job's log says what went wrong, the exit code says it failed
        print(f"prm_trl: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
