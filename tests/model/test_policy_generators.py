"""Policy(generator=[...]): a generator per row, so each row's sampling noise is its own."""

from __future__ import annotations

import pytest
import torch
from policy_models import FUSED, build_model

import uva_kit
from uva_kit.errors import InputError
from uva_kit.model.uva import UVAModel

SEEDS = [11, 12, 13]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def frames(model, steps: int = 10, batch: int = 3) -> list[torch.Tensor]:
    size = model.spec.layout.image_size
    return [torch.rand(batch, 3, size, size, generator=seeded(step)) for step in range(steps)]


def act(policy: uva_kit.Policy, images: list[torch.Tensor]) -> torch.Tensor:
    """The actions (steps, B, action_dim) of one episode per row."""
    return torch.stack([policy.select_action({"image": image}) for image in images])


@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=pytest.mark.skipif(
    not FUSED, reason="the C++ extension with the fused sampler is not built"))])
@pytest.mark.parametrize("kind", ["patch-encoder", "kl_f16-encoder"])
def test_a_row_with_its_own_generator_acts_the_same_alone_as_in_a_batch(kind, compiled):
    """Posterior latents (kl_f16) and action noise are drawn per row, eagerly and through the fused sampler.
    Random weights, so that the actions depend on the frames as well as on the noise."""
    model = build_model(kind)
    images = frames(model)

    def run(rows: list[int]) -> torch.Tensor:
        policy = uva_kit.Policy(model, n_action_steps=4, generator=[seeded(SEEDS[r]) for r in rows])
        return act(policy.compile() if compiled else policy, [image[rows] for image in images])

    together = run([0, 1, 2])
    for row in range(3):
        alone = run([row])[:, 0]
        if kind == "patch-encoder":
            assert torch.equal(together[:, row], alone)
        else:  # kl_f16's convolutions round differently for 1 frame than for several (same noise, last bits)
            torch.testing.assert_close(together[:, row], alone, rtol=1e-5, atol=1e-5)


def test_a_rows_actions_do_not_depend_on_the_other_rows_seeds_or_resets():
    model = build_model("patch-encoder")
    images = frames(model, steps=14, batch=2)
    first = act(uva_kit.Policy(model, n_action_steps=4, generator=[seeded(1), seeded(2)]), images)

    policy = uva_kit.Policy(model, n_action_steps=4, generator=[seeded(1), seeded(3)])
    second = act(policy, images[:5])
    policy.reset(rows=[1])
    policy.generator[1].manual_seed(4)  # row 1's next episode
    second = torch.cat([second, act(policy, images[5:])])
    assert torch.equal(first[:, 0], second[:, 0])
    assert not torch.equal(first[:, 1], second[:, 1])


def test_one_generator_draws_for_the_whole_batch_as_the_model_does():
    """A batch planned together with one generator draws as ``predict_actions`` would (as before per-row
    generators): the same stream, in the same order."""
    model = build_model("kl_f16-encoder")
    images = frames(model, steps=1)
    action = uva_kit.Policy(model, generator=seeded(5)).select_action({"image": images[0]})
    history = torch.stack([images[0]] * 4, dim=1)
    expected = model.predict_actions(history, generator=seeded(5))[:, 0]
    torch.testing.assert_close(action, expected, rtol=1e-5, atol=1e-5)  # it encodes 1 frame, the model 4: last bits


@pytest.mark.parametrize("generator, message", [
    ([seeded(0), seeded(1)], r"the policy has 2 generators, one per row, but the batch has 3 rows: give it 3"),
    ([seeded(0)] * 3, r"lists the same torch.Generator for several rows: give each row its own"),
    ([0, 1, 2], r"generator must be a torch.Generator, a list of them \(one per row of the batch\) or None"),
    ([], r"generator must be a torch.Generator, a list of them"),
])
def test_generators_that_do_not_fit_the_batch_say_what_is_expected(tiny_model, generator, message):
    with pytest.raises(InputError, match=message):
        uva_kit.Policy(tiny_model, generator=generator).select_action({"image": torch.rand(3, 3, 16, 16)})


def test_generators_on_another_device_than_the_model_say_where_to_make_them(tiny_model, monkeypatch):
    monkeypatch.setattr(UVAModel, "device", property(lambda self: torch.device("cuda", 0)))
    with pytest.raises(InputError, match=r"rows \[0, 1\] are on cpu, the model on cuda:0: make them with "
                                         r"torch.Generator\(device='cuda:0'\)"):
        uva_kit.Policy(tiny_model, generator=[seeded(0), seeded(1)])
