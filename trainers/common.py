"""What flywheel's reference trainers (hf_sft.py, prm_trl.py) share: their leading flags, the checks of flag values
and data (exit code 2), the progress protocol, and the checkpoint manifest.

The trainers run as scripts and import this file from beside them (`sys.path` gets the script's own folder), so
copy the folder, not one script. Standard library only: a trainer checks its arguments and data before it imports
torch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

DEFAULT_LR = {"lora": 2e-4, "full": 1e-5}


class InputCheck:
    """Bad arguments or data: a message on stderr prefixed with the trainer's name, and exit code 2."""

    def __init__(self, prog: str):
        self.prog = prog

    def fail(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(2)

    def optional(self, value: str | None, kind, flag: str):
        """An optional flag: empty (an unset {placeholder}) means the default."""
        if value is None or value.strip() == "":
            return None
        try:
            parsed = kind(value)
        except ValueError:
            self.fail(f"{flag} must be a {kind.__name__}, got {value!r}")
        if parsed <= 0 and flag != "--seed":
            self.fail(f"{flag} must be positive, got {value!r}")
        return parsed


def trainer_arguments(description: str, *, data_help: str, init_help: str) -> argparse.ArgumentParser:
    """A parser with the flags every trainer takes first, in this order: --data, --output, --base-model, --init,
    --mode, --epochs (the rest are the trainer's own)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--output", required=True, help="checkpoint directory to write")
    p.add_argument("--base-model", required=True, help="HF model id or local directory")
    p.add_argument("--init", default="", help=init_help)
    p.add_argument("--mode", choices=["lora", "full"], default="lora")
    p.add_argument("--epochs", default="")
    return p


def progress_file_argument(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """--progress-file, defaulting to the FLYWHEEL_PROGRESS_FILE the command backend sets."""
    p.add_argument("--progress-file", default=os.environ.get("FLYWHEEL_PROGRESS_FILE", ""), help=help)


class ProgressLog:
    """The progress protocol: one JSON line per record on stdout, and appended to the progress file if any."""

    def __init__(self, progress_file: str):
        self.file = open(progress_file, "a", buffering=1) if progress_file else None

    def emit(self, record: dict) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if self.file:
            self.file.write(line + "\n")


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def checkpoint_kind(mode: str) -> str:
    """The manifest's kind: a LoRA run writes an adapter, a full run full weights."""
    return "adapter" if mode == "lora" else "full"


def checkpoint_files(output: Path, skip_dirs: tuple[str, ...] = ()) -> list[str]:
    """The checkpoint's files for the manifest, relative to it: not the manifest, hidden files, nor `skip_dirs`
    at its top (a trainer's own scratch directory)."""
    return sorted(
        str(p.relative_to(output))
        for p in output.rglob("*")
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".") and p.relative_to(output).parts[0] not in skip_dirs
    )


def write_manifest(output: Path, manifest: dict) -> None:
    """Writes manifest.json last, and atomically (a manifest means the checkpoint is complete), then prints the
    checkpoint event with the manifest's metrics."""
    write_atomic(output / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"event": "checkpoint", "path": str(output), **manifest["metrics"]}), flush=True)
