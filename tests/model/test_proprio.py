"""The built-in ``proprio`` modality: the contract kit, what the policy mode feeds it, and ``uva_kit.Policy``
reading it from the observation at the history frames."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import uva_kit
from uva_kit.eval.agents import PolicyAgent
from uva_kit.model.uva import UnusedModalityWarning
from uva_kit.spec import load_spec, spec_from_dict, to_dict
from uva_kit.testing import ModalityContract
from uva_kit.testing.data import make_batch


class TestProprio(ModalityContract):
    component = ("modality", "proprio")
    predicts = False

    def modality_data(self, batch, generator):
        frames = batch["history_frames"].shape[1]
        return {"agent_pos": 50 + 400 * torch.rand(len(batch["actions"]), frames, 2, generator=generator)}


@pytest.fixture
def proprio_model():
    """pusht-tiny with ``proprio`` given to its policy mode, normalized to PushT's 0..512 workspace."""
    spec = to_dict(load_spec("pusht-tiny"))
    spec["modalities"].append({"type": "proprio"})
    spec["modes"] = [{"mode": {"type": "policy", "given": ["proprio"]}}, {"mode": {"type": "video"}}]
    torch.manual_seed(0)
    model = uva_kit.build(spec_from_dict(spec))
    model.modalities["proprio"].normalizer.set_range([0.0, 0.0], [512.0, 512.0])
    return model


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_the_policy_mode_reads_the_position_and_needs_it(proprio_model):
    history = make_batch(2)["history_frames"]
    left, right = torch.full((2, 4, 2), 60.0), torch.full((2, 4, 2), 450.0)
    latents = [proprio_model.policy_latents(history, inputs={"proprio": p}) for p in (left, left, right)]
    assert torch.equal(latents[0], latents[1]) and not torch.allclose(latents[0], latents[2], atol=1e-3)
    assert proprio_model.predict_actions(history, inputs={"proprio": left}, steps=2).shape == (2, 16, 2)
    with pytest.raises(ValueError, match=r"inputs=\{'proprio': ...\}, batches as 'agent_pos'"):
        proprio_model.predict_actions(history)
    assert torch.equal(proprio_model.predict_actions(history, inputs={"proprio": left.numpy()}, generator=seeded()),
                       proprio_model.predict_actions(history, inputs={"proprio": left}, generator=seeded()))
    with pytest.raises(ValueError, match=r"\(B, 4, 2\)"):
        proprio_model.predict_actions(history, inputs={"proprio": left[:, 0]})


def spy_on_given_positions(model) -> list[torch.Tensor]:
    """The ``proprio`` input of every ``predict_actions`` call made from now on."""
    given = []
    predict = model.predict_actions

    def spy_predict(*args, **kwargs):
        given.append(kwargs["inputs"]["proprio"].clone())
        return predict(*args, **kwargs)

    model.predict_actions = spy_predict
    return given


def test_policy_stacks_the_observed_position_at_the_history_frames(proprio_model):
    policy = uva_kit.Policy(proprio_model, n_action_steps=4, generator=seeded())
    given = spy_on_given_positions(proprio_model)
    for step in range(17):
        policy.select_action({"image": torch.rand(3, 16, 16), "agent_pos": np.array([step, 100.0 + step])})
    # replans at steps 0, 4, 8, 12, 16; the history is steps (t-12, t-8, t-4, t), clamped at the episode start
    assert [g[0, :, 0].tolist() for g in given] == [[0, 0, 0, 0], [0, 0, 0, 4], [0, 0, 4, 8], [0, 4, 8, 12],
                                                    [4, 8, 12, 16]]
    assert given[-1][0, :, 1].tolist() == [104, 108, 112, 116]


def test_policy_says_which_observation_is_missing_or_misshapen(proprio_model):
    policy = uva_kit.Policy(proprio_model, generator=seeded())
    with pytest.raises(KeyError, match="agent_pos"):
        policy.select_action({"image": torch.rand(3, 16, 16)})
    policy.reset()
    with pytest.raises(ValueError, match=r"obs\['agent_pos'\] must be \(2, 2\) for this model's 'proprio'"):
        policy.select_action({"image": torch.rand(2, 3, 16, 16), "agent_pos": torch.zeros(3, 2)})
    policy.reset()
    with pytest.raises(ValueError, match=r"obs\['agent_pos'\] must be \(2,\) for this model's 'proprio', got \(3,\)"):
        policy.select_action({"image": torch.rand(3, 16, 16), "agent_pos": torch.zeros(3)})


def test_policy_agent_passes_the_env_position(proprio_model):
    agent = PolicyAgent(proprio_model, n_action_steps=8)
    given = spy_on_given_positions(proprio_model)
    position = np.array([[60.0, 70.0], [450.0, 440.0]])
    agent.reset([0, 1])
    actions = agent.act({"pixels": np.zeros((2, 96, 96, 3), dtype=np.uint8), "agent_pos": position})
    assert actions.shape == (2, 2)
    assert torch.equal(given[0], torch.tensor(position, dtype=torch.float32)[:, None].expand(2, 4, 2))


def test_a_pusht_state_proprio_reads_the_dataset_in_training_and_the_env_in_a_rollout():
    """``data_key = "pusht_state"``: computed from the dataset's environment_state for training; the
    same key of the PushT observation at rollout time."""
    import uva_kit.envs as envs
    from uva_kit.cli.train import split_dataset
    from uva_kit.train.loop import fit_normalizers

    spec = to_dict(load_spec("pusht-tiny"))
    spec["modalities"].append({"type": "proprio", "data_key": "pusht_state", "dim": 6})
    spec["modes"] = [{"mode": {"type": "policy", "given": ["proprio"]}}]
    spec = spec_from_dict(spec)
    dataset = split_dataset(spec, "default", "val")
    torch.manual_seed(0)
    model = uva_kit.build(spec)
    fit_normalizers(model, dataset.stats)
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=2)))
    assert batch["pusht_state"].shape == (2, 4, 6)
    loss, _ = model(batch)
    assert torch.isfinite(loss)

    vector = envs.make_vector("pusht", 2)
    observation, _ = vector.reset(seed=[0, 1])
    agent = PolicyAgent(model.eval(), n_action_steps=8)
    given = spy_on_given_positions(model)
    agent.reset([0, 1])
    assert agent.act(observation).shape == (2, 2)
    expected = torch.tensor(observation["pusht_state"], dtype=torch.float32)[:, None].expand(2, 4, 6)
    assert torch.equal(given[0], expected)
    vector.close()


def test_an_env_observation_drives_the_policy_through_policy_observation(proprio_model):
    """``uva_kit.envs.policy_observation`` turns what an env (one, or a vector of them) returns into what
    ``Policy.select_action`` takes: the frame channels first in [0, 1], the position as a tensor."""
    pytest.importorskip("gym_pusht")
    import uva_kit.envs as envs

    observation, _ = envs.make("pusht").reset(seed=0)
    converted = envs.policy_observation(observation)
    assert converted["image"].shape == (3, 96, 96) and converted["image"].dtype == torch.float32
    assert torch.equal((converted["image"] * 255).round().to(torch.uint8), torch.from_numpy(observation["pixels"]).permute(2, 0, 1))
    assert torch.equal(converted["agent_pos"], torch.tensor(observation["agent_pos"], dtype=torch.float32))
    policy = uva_kit.Policy(proprio_model, generator=seeded())
    assert policy.select_action(converted).shape == (2,)

    vector = envs.make_vector("pusht", 2)
    observations, _ = vector.reset(seed=[0, 1])
    policy.reset()
    assert policy.select_action(envs.policy_observation(observations)).shape == (2, 2)
    vector.close()


def test_entries_a_policy_cannot_read_pass_policy_observation_unchanged(proprio_model):
    """An env's text or nested entries (an instruction, a robot's state dict) are not the policy's business."""
    import uva_kit.envs as envs

    extras = {"task": "push the T", "robot": {"joints": np.zeros(7)}}
    converted = envs.policy_observation({"pixels": np.zeros((16, 16, 3), np.uint8), "agent_pos": np.ones(2), **extras})
    assert converted["task"] == "push the T" and converted["robot"] is extras["robot"]
    assert uva_kit.Policy(proprio_model, generator=seeded()).select_action(converted).shape == (2,)


def test_a_dim_unlike_the_data_names_the_spec_option():
    from uva_kit.errors import DataError
    from uva_kit.train.loop import fit_normalizers

    spec = to_dict(load_spec("pusht-tiny"))
    spec["modalities"].append({"type": "proprio", "data_key": "state", "dim": 7})
    spec["modes"] = [{"mode": {"type": "policy", "given": ["proprio"]}}]
    model = uva_kit.build(spec_from_dict(spec))
    stats = {"actions": {"min": np.zeros(2), "max": np.ones(2)}, "state": {"min": np.zeros(9), "max": np.ones(9)}}
    with pytest.raises(DataError, match=r"'state' has 9 values per step in the data, but the 'proprio' modality is "
                                        r"built for 7: set modalities.2.dim = 9 in the spec"):
        fit_normalizers(model, stats)


def test_a_proprio_that_no_mode_gives_warns_how_to_give_it():
    spec = to_dict(load_spec("pusht-tiny"))
    spec["modalities"].append({"type": "proprio"})
    with pytest.warns(UnusedModalityWarning, match=r"'proprio' has no head and no mode .*modes.0.mode.given=\['proprio'\]"):
        model = uva_kit.build(spec_from_dict(spec))
    assert model.policy_observations == {}


def test_loading_a_model_with_an_unread_proprio_does_not_repeat_the_spec_advice(tmp_path):
    from uva_kit.train.loop import fit_normalizers

    spec = to_dict(load_spec("pusht-tiny"))
    spec["modalities"].append({"type": "proprio"})
    with pytest.warns(UnusedModalityWarning):
        model = uva_kit.build(spec_from_dict(spec))
    fit_normalizers(model, {"actions": {"min": np.zeros(2), "max": np.ones(2)},
                            "agent_pos": {"min": np.zeros(2), "max": np.ones(2)}})
    uva_kit.save(model, tmp_path / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = uva_kit.load(tmp_path / "model")
    assert loaded.policy_observations == {}
