"""Policy.reset(rows=...): some rows of a batch start new episodes while the others go on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import uva_kit
from uva_kit.errors import InputError


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def observations(steps: int, batch: int) -> list[dict[str, torch.Tensor]]:
    return [{"image": torch.rand(batch, 3, 16, 16, generator=seeded(step))} for step in range(steps)]


def spy_plans(model, plans: list) -> None:
    """Record the history latents and instruction of every ``model.predict_actions`` call in ``plans``."""
    predict = model.predict_actions

    def spy(*args, **kwargs):
        plans.append((kwargs["history_latents"], kwargs["instruction"]))
        return predict(*args, **kwargs)

    model.predict_actions = spy


def test_a_reset_row_acts_as_a_fresh_policy_and_the_other_row_goes_on_as_if_unreset(tiny_model):
    """Row 1 restarts at step 5: it plans at steps 5 and 13 (its episode's 0 and 8) from its own frames, the
    first standing in for those before it, as a fresh policy; row 0 keeps its chunk and replans at step 8 from
    the history it would have had without the reset."""
    steps = 14
    obs = observations(steps, batch=2)
    plans, generator = [], seeded()
    spy_plans(tiny_model, plans)
    policy = uva_kit.Policy(tiny_model, generator=generator)
    actions = []
    for step, o in enumerate(obs):
        if step == 5:
            policy.reset(rows=[1])
            at_reset = generator.get_state()
        actions.append(policy.select_action(o))
    actions = torch.stack(actions)
    assert [history.shape[0] for history, _ in plans] == [2, 1, 1, 1]  # steps 0 (both), 5 (row 1), 8 (row 0), 13 (row 1)

    fresh_plans = []
    spy_plans(tiny_model, fresh_plans)
    fresh = uva_kit.Policy(tiny_model, generator=torch.Generator().set_state(at_reset))
    fresh_actions = torch.stack([fresh.select_action({"image": o["image"][1:]}) for o in obs[5:]])
    torch.testing.assert_close(plans[1][0], fresh_plans[0][0])
    torch.testing.assert_close(plans[3][0], fresh_plans[1][0])
    torch.testing.assert_close(actions[5:13, 1], fresh_actions[:8, 0])  # its chunk, from the same noise

    unreset_plans = []
    spy_plans(tiny_model, unreset_plans)
    unreset = uva_kit.Policy(tiny_model, generator=seeded())
    unreset_actions = torch.stack([unreset.select_action(o) for o in obs])
    torch.testing.assert_close(plans[0][0], unreset_plans[0][0])
    torch.testing.assert_close(plans[2][0], unreset_plans[1][0][:1])
    assert torch.equal(actions[:8, 0], unreset_actions[:8, 0])  # its queued actions, untouched by the reset


def test_a_boolean_mask_resets_the_rows_it_marks(tiny_model):
    """As a vector env's ``terminated | truncated`` gives them; a reset before any observation changes nothing."""
    plans = []
    spy_plans(tiny_model, plans)
    policy = uva_kit.Policy(tiny_model, generator=seeded())
    policy.reset(rows=[7])
    for o in observations(3, batch=3):
        policy.select_action(o)
    policy.reset(rows=np.array([False, True, True]))
    policy.reset(rows=[])
    policy.select_action(observations(1, batch=3)[0])
    assert [history.shape[0] for history, _ in plans] == [3, 2]


def test_a_reset_row_plans_with_its_own_instruction(tiny_model):
    plans = []
    tiny_model.predict_actions = lambda **kwargs: plans.append(kwargs["instruction"]) or torch.zeros(
        kwargs["history_latents"].shape[0], 16, 2)
    policy = uva_kit.Policy(tiny_model, instruction=["push the T", "push the block", "stay"])
    for step, o in enumerate(observations(3, batch=3)):
        if step == 2:
            policy.reset(rows=[2])
        policy.select_action(o)
    assert plans == [["push the T", "push the block", "stay"], ["stay"]]


@pytest.mark.parametrize("rows, message", [
    ([1, 3], r"rows must be in 0..2 \(the batch has 3 rows\), got \[3\]; reset\(\) without rows resets them all"),
    ([-1], r"rows must be in 0..2 .* got \[-1\]"),
    (np.array([True, False]), r"a boolean rows mask must have one entry per row of the batch, \(3,\); got \(2,\)"),
    ([0.5], r"rows must be row indices \(ints\) or a boolean mask of length 3, got \[0.5\]"),
])
def test_rows_outside_the_batch_say_what_is_expected(tiny_model, rows, message):
    policy = uva_kit.Policy(tiny_model, generator=seeded())
    policy.select_action(observations(1, batch=3)[0])
    with pytest.raises(InputError, match=message):
        policy.reset(rows=rows)
