"""The force plugin end to end: listed by ``uva-kit plugins``, trained on the PushT contact impulses the
simulator recorded (the dataset shipped with uva_kit), predicting force chunks, saved and loaded."""

from __future__ import annotations

import subprocess
import sys

import torch

import uva_kit
from uva_kit.data import UVADataset, default_pusht_dataset
from uva_kit.train import fit
from uva_kit.train.loop import fit_normalizers

TRAIN = ["training.steps=40", "training.batch_size=8", "training.warmup_steps=0", "training.lr=3e-3",
         "training.ema_max_decay=0.9", "training.checkpoint_every=40", "training.val_ratio=0"]


def force_loss(model, batch) -> float:
    """The policy's force loss on ``batch`` under fixed timesteps and noise (comparable before/after training)."""
    with torch.no_grad():
        return sum(model.compute_loss(batch, mode="policy", generator=torch.Generator().manual_seed(s))[1]["loss/force"]
                   for s in range(8)) / 8


def test_uva_kit_plugins_lists_the_force_modality_and_preset():
    listing = subprocess.run([sys.executable, "-m", "uva_kit", "plugins"], capture_output=True, text=True, check=True)
    assert "force  [uva-kit-force" in listing.stdout
    assert "modality      force" in listing.stdout and "preset        pusht-tiny-force" in listing.stdout


def test_trains_on_recorded_contact_predicts_force_chunks_and_round_trips(tmp_path):
    torch.set_num_threads(1)
    spec = uva_kit.load_spec("pusht-tiny-force", TRAIN)
    data = UVADataset(default_pusht_dataset(), spec.layout, split="all", image_size=16, augment=False)
    contact = [i for i in range(0, len(data), 7) if data[i]["contact_impulse"].abs().sum() > 0][:16]
    batch = torch.utils.data.default_collate([data[i] for i in contact])

    torch.manual_seed(spec.training.seed)
    untrained = uva_kit.build(spec)
    fit_normalizers(untrained, data.stats)
    result = fit(spec, data, tmp_path / "run", progress=False)
    trained = uva_kit.load(result.checkpoint / "pretrained_model")
    before, after = force_loss(untrained, batch), force_loss(trained, batch)
    assert after < 0.7 * before, (before, after)

    forces = trained.predict_modality("force", batch["history_frames"], generator=torch.Generator().manual_seed(0))
    assert forces.shape == batch["contact_impulse"].shape
    low, high = (torch.as_tensor(data.stats["contact_impulse"][k], dtype=torch.float32) for k in ("min", "max"))
    assert ((forces >= low - 1) & (forces <= high + 1)).all(), "predictions leave the recorded impulse range"

    uva_kit.save(trained, tmp_path / "again")
    reloaded = uva_kit.load(tmp_path / "again")
    again = reloaded.predict_modality("force", batch["history_frames"], generator=torch.Generator().manual_seed(0))
    assert torch.equal(forces, again)
