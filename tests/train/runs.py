"""Run ``uva-kit train`` in subprocesses (one process or torchrun) and read their checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

REPO = Path(__file__).parents[2]

TRAIN_ARGS = ["--spec", "pusht-tiny", "--data", "default", "--no-progress",
              "--set", "training.batch_size=8", "--set", "training.warmup_steps=2", "--set", "training.lr=1e-3",
              "--set", "training.log_every=1", "--set", "training.checkpoint_every=2", "--set", "training.keep_last=10"]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def train_arguments(out: Path, steps: int, *extra: str, resume: bool = False) -> list[str]:
    if resume:
        return ["train", "--resume", str(out)]
    return ["train", *TRAIN_ARGS, "--out", str(out), "--set", f"training.steps={steps}", *extra]


def run_fit(out: Path, steps: int, *extra: str, resume: bool = False) -> subprocess.Popen:
    """``uva-kit train`` on the shipped PushT data in its own process (or ``--resume``)."""
    return subprocess.Popen([sys.executable, "-m", "uva_kit", *train_arguments(out, steps, *extra, resume=resume)],
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


PAUSE_AFTER_LOGGING = """\
import sys, threading
from uva_kit.train.metrics import MetricsLog

write = MetricsLog.write

def write_then_pause(log, step, split, values):
    write(log, step, split, values)
    if split == "train" and step == {step}:
        print("PAUSED", flush=True)
        threading.Event().wait()

MetricsLog.write = write_then_pause
from uva_kit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start_fit_pausing_at(out: Path, steps: int, step: int) -> subprocess.Popen:
    """``run_fit`` whose process hangs once step ``step`` is in the metrics log, after printing PAUSED:
    a test can then kill it at a known point mid-training, however slow the machine is."""
    driver = PAUSE_AFTER_LOGGING.format(step=step)
    return subprocess.Popen([sys.executable, "-c", driver, *train_arguments(out, steps)],
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_until(process: subprocess.Popen, marker: str) -> str:
    """The process's output up to and including the line ``marker``; fails if the process ends first."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.rstrip("\n") == marker:
            return "".join(lines)
    raise AssertionError(f"the process ended (exit code {process.wait()}) before printing {marker}:\n" + "".join(lines))


def start_torchrun(out: Path, steps: int, *extra: str, resume: bool = False, script: Path | None = None) -> subprocess.Popen:
    """The same command under ``torchrun --nproc-per-node 2`` (gloo on the CPU); ``script``: a Python file that
    takes the command's arguments, run instead of ``-m uva_kit``."""
    entry = [str(script)] if script else ["-m", "uva_kit"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               *entry, *train_arguments(out, steps, *extra, resume=resume)]
    return subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_torchrun(out: Path, steps: int, *extra: str, resume: bool = False) -> str:
    """``start_torchrun`` and wait for it to succeed; its output."""
    return finish(start_torchrun(out, steps, *extra, resume=resume))


def finish(process: subprocess.Popen) -> str:
    """Wait for ``process`` to succeed; its output."""
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def checkpoint(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"{step:08d}"


def weights(out: Path, step: int, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint(out, step) / "training_state" / f"{name}.safetensors"))


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)
