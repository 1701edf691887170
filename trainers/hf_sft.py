#!/usr/bin/env python3
"""Supervised fine-tuning of a Hugging Face causal LM on flywheel's chat JSONL, LoRA (peft) or full weights.

The reference trainer for `finetune.backend: command`: it reads the round's dataset (`{"messages": [...]}` per
line), trains on the assistant turns only (prompt tokens are masked out of the loss), writes an HF checkpoint
(a peft adapter, or a full model with its tokenizer) and flywheel's `manifest.json`, and prints the progress
protocol, one JSON line per logging step:

    {"step": 20, "loss": 1.234, "epoch": 0.4, "lr": 1.9e-05, "grad_norm": 0.8, "tokens_per_second": 5120.0}

Usage (the placeholders are filled by flywheel; see config/examples/hf-sft*.yaml):

    python trainers/hf_sft.py --data {dataset} --output {outputDir} --base-model {baseModel} \
        --init {fromCheckpoint} --mode lora --epochs {epochs} --lr-multiplier {learningRateMultiplier} \
        --batch-size {batchSize} --seed {seed}

An empty value (an unset hyperparameter) means the default. Needs torch, transformers and (for LoRA) peft.
Single process, one device; for several GPUs run it under `accelerate launch` or use TRL / axolotl (examples).
Exit codes: 0 trained and wrote the manifest, 2 bad arguments or data, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py beside this script, from any cwd
from common import DEFAULT_LR, InputCheck, ProgressLog, checkpoint_files, checkpoint_kind, progress_file_argument, trainer_arguments, write_manifest  # noqa: E402

check = InputCheck("hf_sft")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = trainer_arguments(
        __doc__.split("\n\n")[0],
        data_help="chat JSONL training file",
        init_help="checkpoint to continue from: a peft adapter (lora) or a model dir (full)",
    )
    p.add_argument("--lr", default="", help="learning rate (default 2e-4 for LoRA, 1e-5 for full)")
    p.add_argument("--lr-multiplier", default="", help="multiplies the learning rate (flywheel's learningRateMultiplier)")
    p.add_argument("--batch-size", default="", help="examples per optimizer step (split by --micro-batch-size)")
    p.add_argument("--micro-batch-size", default="", help="examples per forward pass (default: --batch-size, at most 8)")
    p.add_argument("--max-length", default="2048", help="tokens per example; longer ones are cut")
    p.add_argument("--warmup-ratio", default="0.03")
    p.add_argument("--seed", default="0")
    p.add_argument("--lora-r", default="16")
    p.add_argument("--lora-alpha", default="32")
    p.add_argument("--lora-dropout", default="0.05")
    p.add_argument("--target-modules", default="all-linear", help="comma-separated module names, or all-linear")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--log-every", default="10", help="optimizer steps between progress lines")
    progress_file_argument(p, help="also append progress lines here")
    return p.parse_args(argv)


def read_conversations(path: str) -> list[list[dict]]:
    conversations = []
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        check.fail(f"cannot read the training file {path}: {err.strerror}")
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                check.fail(f"{path}:{number}: not valid JSON: {err.msg}")
            messages = row.get("messages") if isinstance(row, dict) else None
            if not isinstance(messages, list) or not messages:
                check.fail(f"{path}:{number}: no \"messages\" array")
            if messages[-1].get("role") != "assistant" or not isinstance(messages[-1].get("content"), str):
                check.fail(f"{path}:{number}: the last message must be the assistant's, with string content")
            conversations.append([{"role": m["role"], "content": m["content"]} for m in messages])
    if not conversations:
        check.fail(f"{path} holds no conversations")
    return conversations


def encode(tokenizer, messages: list[dict], max_length: int) -> dict | None:
    """Token ids of the whole conversation, labels only on the last assistant turn (-100 elsewhere)."""
    if getattr(tokenizer, "chat_template", None):
        prompt_ids = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True)
        full_ids = tokenizer.apply_chat_template(messages, tokenize=True)
        if full_ids[: len(prompt_ids)] != prompt_ids:
            # A template that renders the prompt differently inside the full conversation: fall back to plain text.
            prompt_ids = None
    else:
        prompt_ids = None
    if prompt_ids is None:
        prompt_text = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages[:-1]) + "<|assistant|>\n"
        prompt_ids = tokenizer(prompt_text, add_special_tokens=True)["input_ids"]
        answer_ids = tokenizer(messages[-1]["content"], add_special_tokens=False)["input_ids"]
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        full_ids = prompt_ids + answer_ids + eos
    full_ids = list(full_ids)[:max_length]
    labels = [-100] * min(len(prompt_ids), len(full_ids)) + full_ids[len(prompt_ids):]
    if all(label == -100 for label in labels):
        return None  # the prompt alone fills max_length: nothing to learn from
    return {"input_ids": full_ids, "labels": labels}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    epochs = check.optional(args.epochs, int, "--epochs") or 3
    batch_size = check.optional(args.batch_size, int, "--batch-size") or 16
    micro = check.optional(args.micro_batch_size, int, "--micro-batch-size") or min(batch_size, 8)
    if batch_size % micro:
        check.fail(f"--batch-size {batch_size} must be a multiple of --micro-batch-size {micro}")
    accumulation = batch_size // micro
    lr = (check.optional(args.lr, float, "--lr") or DEFAULT_LR[args.mode]) * (check.optional(args.lr_multiplier, float, "--lr-multiplier") or 1.0)
    max_length = check.optional(args.max_length, int, "--max-length")
    seed = int(args.seed) if args.seed.strip() else 0
    log_every = check.optional(args.log_every, int, "--log-every")
    conversations = read_conversations(args.data)

    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler
    except ImportError as err:
        print(f"hf_sft: {err.name} is not installed: pip install torch transformers peft", file=sys.stderr)
        return 1

    random.seed(seed)
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32

    init = args.init.strip()
    tokenizer_source = init if init and args.mode == "full" and Path(init, "tokenizer_config.json").exists() else args.base_model
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    examples = [e for e in (encode(tokenizer, c, max_length) for c in conversations) if e]
    if not examples:
        check.fail(f"no example of {args.data} has assistant tokens within --max-length {max_length}")

    model_source = init if init and args.mode == "full" else args.base_model
    model = AutoModelForCausalLM.from_pretrained(model_source, torch_dtype=dtype)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    if args.mode == "lora":
        from peft import LoraConfig, PeftModel, get_peft_model

        if init:
            model = PeftModel.from_pretrained(model, init, is_trainable=True)
        else:
            targets = args.target_modules if args.target_modules == "all-linear" else [t.strip() for t in args.target_modules.split(",") if t.strip()]
            config = LoraConfig(
                task_type="CAUSAL_LM",
                r=int(args.lora_r),
                lora_alpha=int(args.lora_alpha),
                lora_dropout=float(args.lora_dropout),
                target_modules=targets,
            )
            model = get_peft_model(model, config)
        if args.gradient_checkpointing:
            model.enable_input_require_grads()
    model.to(device)
    model.train()

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(examples) / batch_size)
    total_steps = steps_per_epoch * epochs
    scheduler = get_scheduler(
        "cosine", optimizer, num_warmup_steps=int(total_steps * float(args.warmup_ratio)), num_training_steps=total_steps
    )
    progress = ProgressLog(args.progress_file)
    print(
        json.dumps({"event": "start", "examples": len(examples), "epochs": epochs, "steps": total_steps, "mode": args.mode,
                    "trainable_parameters": sum(p.numel() for p in trainable), "device": str(device)}),
        flush=True,
    )

    def batches(order: list[int]):
        for start in range(0, len(order), micro):
            chunk = [examples[i] for i in order[start:start + micro]]
            width = max(len(e["input_ids"]) for e in chunk)
            ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, e in enumerate(chunk):
                n = len(e["input_ids"])
                ids[row, :n] = torch.tensor(e["input_ids"])
                labels[row, :n] = torch.tensor(e["labels"])
                mask[row, :n] = 1
            yield ids.to(device), labels.to(device), mask.to(device)

    step = 0
    started = time.perf_counter()
    window_tokens = 0
    window_start = started
    window_loss = 0.0
    window_micro = 0
    total_tokens = 0
    last_loss = float("nan")
    for epoch in range(epochs):
        order = list(range(len(examples)))
        random.shuffle(order)
        micro_index = 0
        for ids, labels, mask in batches(order):
            # Mean loss over the assistant tokens of the micro-batch, scaled for accumulation.
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            (loss / accumulation).backward()
            window_loss += loss.item()
            window_micro += 1
            tokens = int(mask.sum().item())
            window_tokens += tokens
            total_tokens += tokens
            micro_index += 1
            last_of_epoch = micro_index * micro >= len(order)
            if micro_index % accumulation and not last_of_epoch:
                continue
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, 1.0).item()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % log_every == 0 or step == total_steps:
                now = time.perf_counter()
                last_loss = window_loss / max(window_micro, 1)
                progress.emit({
                    "step": step,
                    "loss": round(last_loss, 6),
                    "epoch": round(epoch + min(micro_index * micro, len(order)) / len(order), 4),
                    "lr": scheduler.get_last_lr()[0],
                    "grad_norm": round(grad_norm, 6),
                    "tokens_per_second": round(window_tokens / max(now - window_start, 1e-9), 1),
                })
                window_tokens, window_start, window_loss, window_micro = 0, now, 0.0, 0

    seconds = time.perf_counter() - started
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output, safe_serialization=True)
    if args.mode == "full":
        tokenizer.save_pretrained(output)
    manifest = {
        "kind": checkpoint_kind(args.mode),
        "format": "peft" if args.mode == "lora" else "hf",
        "baseModel": args.base_model,
        "files": checkpoint_files(output),
        "metrics": {
            **({"finalLoss": last_loss} if math.isfinite(last_loss) else {}),
            "steps": step,
            "tokens": total_tokens,
            "seconds": round(seconds, 3),
            "tokensPerSecond": round(total_tokens / max(seconds, 1e-9), 1),
        },
    }
    write_manifest(output, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
