"""uva_kit's contract tests on the force modality (the conformance kit), plus its normalizer."""

from __future__ import annotations

import torch
from uva_kit_force.modality import SignedLogRangeNormalizer

from uva_kit.model.normalizer import RangeNormalizer
from uva_kit.testing import ModalityContract


class TestForceModality(ModalityContract):
    component = ("modality", "force")
    modality_options = {"head": {"type": "chunk", "width": 32, "depth": 1}}

    def modality_data(self, batch, generator):
        """Sparse, heavy-tailed impulses like PushT's: a push along the action direction where the agent is in contact."""
        actions = batch["actions"]
        in_contact = torch.rand(actions.shape[:2], generator=generator) < 0.4
        magnitude = 300 * torch.exp(torch.randn(actions.shape[:2], generator=generator))
        return {"contact_impulse": actions * (magnitude * in_contact)[..., None]}


def test_signed_log_normalizer_maps_the_range_to_unit_interval_and_inverts():
    normalizer = SignedLogRangeNormalizer(2, scale=100.0)
    normalizer.set_range([-4600.0, -950.0], [970.0, 9300.0])
    ends = torch.tensor([[-4600.0, -950.0], [970.0, 9300.0]])
    torch.testing.assert_close(normalizer.normalize(ends), torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    values = torch.tensor([[0.0, 0.0], [-500.0, 500.0], [12.5, -3.0]])
    torch.testing.assert_close(normalizer.unnormalize(normalizer.normalize(values)), values, rtol=1e-5, atol=1e-3)


def test_compression_spreads_typical_contacts_apart_from_no_contact():
    """Plain min/max would put a median push (500) only ~0.1 from no contact on PushT's range; compression ~0.5."""
    compressed = SignedLogRangeNormalizer(1, scale=100.0)
    plain = RangeNormalizer(1)
    for normalizer in (compressed, plain):
        normalizer.set_range([-4600.0], [9300.0])
    gap = {name: float(n.normalize(torch.tensor([500.0])) - n.normalize(torch.tensor([0.0])))
           for name, n in (("compressed", compressed), ("plain", plain))}
    assert gap["compressed"] > 3 * gap["plain"], gap
