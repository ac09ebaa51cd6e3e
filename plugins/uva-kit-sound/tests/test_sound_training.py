"""The sound plugin end to end: listed by ``uva-kit plugins``, trained with ``uva-kit train`` on the shipped
PushT data (sound rendered from its recorded contact impulses), predicting per-frame log-mel features."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

import uva_kit
from uva_kit.data import UVADataset, default_pusht_dataset
from uva_kit.train.loop import fit_normalizers

TRAIN = ["--spec", "pusht-tiny-sound", "--data", "default", "--no-progress", "--set", "training.steps=40",
         "--set", "training.batch_size=8", "--set", "training.warmup_steps=0", "--set", "training.lr=3e-3",
         "--set", "training.ema_max_decay=0.9", "--set", "training.checkpoint_every=40", "--set", "training.val_ratio=0"]


def sound_loss(model, batch) -> float:
    with torch.no_grad():
        return sum(model.compute_loss(batch, mode="policy", generator=torch.Generator().manual_seed(s))[1]["loss/sound"]
                   for s in range(8)) / 8


def test_uva_kit_plugins_lists_sound_and_the_frame_head():
    listing = subprocess.run([sys.executable, "-m", "uva_kit", "plugins"], capture_output=True, text=True, check=True)
    assert "sound  [uva-kit-sound" in listing.stdout
    assert "modality      sound" in listing.stdout and "head          frame" in listing.stdout


def test_uva_kit_train_learns_contact_sound_and_the_model_round_trips(tmp_path):
    run = subprocess.run([sys.executable, "-m", "uva_kit", "train", *TRAIN, "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    trained = uva_kit.load(tmp_path / "run" / "checkpoints" / "00000040" / "pretrained_model")

    torch.set_num_threads(1)
    data = UVADataset(default_pusht_dataset(), trained.spec.layout, split="all", image_size=16, augment=False)
    contact = [i for i in range(0, len(data), 7) if data[i]["contact_impulse"].abs().sum() > 0][:16]
    batch = torch.utils.data.default_collate([data[i] for i in contact])
    torch.manual_seed(0)
    untrained = uva_kit.build(trained.spec)
    fit_normalizers(untrained, data.stats)
    before, after = sound_loss(untrained, batch), sound_loss(trained, batch)
    assert after < 0.7 * before, (before, after)

    sound = trained.predict_modality("sound", batch["history_frames"], generator=torch.Generator().manual_seed(0))
    assert sound.shape == (len(contact), 4, 16)  # one log-mel vector per future frame, not per action
    assert sound.min() >= -60 - 1e-3 and sound.max() <= 30 + 1e-3  # dB within [floor_db, headroom_db]

    uva_kit.save(trained, tmp_path / "again")
    again = uva_kit.load(tmp_path / "again").predict_modality("sound", batch["history_frames"],
                                                             generator=torch.Generator().manual_seed(0))
    assert torch.equal(sound, again)
