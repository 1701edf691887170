#!/usr/bin/env python3
"""Writes flywheel's manifest.json for a checkpoint another trainer wrote (TRL, axolotl, LLaMA-Factory...).

Run it after the trainer, in the same job command: it lists the checkpoint's files, says whether they are a LoRA
adapter or full weights (adapter_config.json decides unless --kind is given), and, when the trainer left a
Hugging Face `trainer_state.json`, turns its log history into progress lines (stdout, and FLYWHEEL_PROGRESS_FILE),
so the round shows the loss curve. The manifest is written last, by rename: it means the checkpoint is complete.

    python3 trainers/write_manifest.py --output {outputDir} --base-model {baseModel}

Exit codes: 0 written, 2 the directory holds no weights (so the job fails, as it should).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

WEIGHTS = (".safetensors", ".bin", ".pt", ".gguf")


def progress_lines(output: Path) -> list[dict]:
    states = sorted(output.glob("**/trainer_state.json"), key=lambda p: p.stat().st_mtime)
    if not states:
        return []
    history = json.loads(states[-1].read_text()).get("log_history", [])
    lines = []
    for entry in history:
        if "loss" not in entry or "step" not in entry:
            continue
        line = {"step": entry["step"], "loss": entry["loss"]}
        for key, name in (("epoch", "epoch"), ("learning_rate", "lr"), ("grad_norm", "grad_norm")):
            if isinstance(entry.get(key), (int, float)):
                line[name] = entry[key]
        lines.append(line)
    return lines


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True)
    p.add_argument("--base-model", required=True)
    p.add_argument("--kind", choices=["adapter", "full"], default=None)
    p.add_argument("--format", default=None, help="e.g. peft, hf (default: from the files)")
    args = p.parse_args(argv)
    output = Path(args.output)
    files = sorted(str(f.relative_to(output)) for f in output.rglob("*") if f.is_file() and f.name != "manifest.json" and not f.name.startswith("."))
    # Intermediate checkpoints (checkpoint-500/...) are not what gets served.
    top = [f for f in files if "/" not in f]
    if not any(f.endswith(WEIGHTS) for f in top):
        print(f"write_manifest: {output} holds no weight files ({', '.join(WEIGHTS)}); the trainer did not save a model", file=sys.stderr)
        return 2
    is_adapter = "adapter_config.json" in top
    kind = args.kind or ("adapter" if is_adapter else "full")
    progress_file = os.environ.get("FLYWHEEL_PROGRESS_FILE", "")
    lines = progress_lines(output)
    with open(progress_file, "a") if progress_file else open(os.devnull, "w") as sink:
        for line in lines:
            text = json.dumps(line)
            print(text)
            sink.write(text + "\n")
    manifest = {"kind": kind, "format": args.format or ("peft" if is_adapter else "hf"), "baseModel": args.base_model, "files": top}
    if lines:
        manifest["metrics"] = {"finalLoss": lines[-1]["loss"], "steps": lines[-1]["step"]}
    fd, tmp = tempfile.mkstemp(dir=output, prefix=".manifest.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, output / "manifest.json")
    print(json.dumps({"event": "checkpoint", "path": str(output), "kind": kind, "files": len(top)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
