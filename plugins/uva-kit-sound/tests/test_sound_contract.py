"""uva_kit's contract tests (the conformance kit) on the sound modality and the frame head."""

from __future__ import annotations

import torch

from uva_kit.testing import HeadContract, ModalityContract


class TestSoundModality(ModalityContract):
    component = ("modality", "sound")
    modality_options = {"head": {"type": "frame", "width": 32, "depth": 1}}

    def modality_data(self, batch, generator):
        """Sparse contact impulses whose strength follows the actions (so the sound depends on the batch)."""
        actions = batch["actions"]
        in_contact = torch.rand(actions.shape[:2], generator=generator) < 0.4
        return {"contact_impulse": 1500 * actions * in_contact[..., None]}


class TestFrameHead(HeadContract):
    component = ("head", "frame")
