"""The 'Your own data' recipe of docs/datasets-and-environments.md, end to end: numpy episodes -> LeRobotWriter ->
uva-kit train on pusht-small with its three overrides -> uva_kit.Policy reading the state in an env loop."""

import numpy as np
import torch

import uva_kit
from uva_kit.cli import main
from uva_kit.data import EpisodeRecord, LeRobotWriter


def test_own_episodes_train_and_deploy(tmp_path):
    rng = np.random.default_rng(0)
    writer = LeRobotWriter(tmp_path / "mine")
    for length in (30, 34, 40):
        writer.add(EpisodeRecord(frames=rng.integers(0, 255, (length, 24, 30, 3), dtype=np.uint8),
                                 agent_pos=rng.normal(size=(length, 9)).astype(np.float32),
                                 actions=rng.normal(size=(length, 7)).astype(np.float32)))
    writer.close()
    assert main(["train", "--spec", "pusht-small", "--data", str(tmp_path / "mine"), "--out", str(tmp_path / "run"),
                 "--set", "layout.action_dim=7", "--set", "modalities.2.data_key=agent_pos", "--set", "modalities.2.dim=9",
                 "--set", "training.steps=1", "--set", "training.batch_size=2", "--no-progress"]) == 0
    model = uva_kit.load(tmp_path / "run")
    assert model.policy_observations == {"proprio": "agent_pos"}
    policy = uva_kit.Policy(model)
    policy.reset()
    rgb = np.zeros((24, 30, 3), np.uint8)
    action = policy.select_action({"image": torch.from_numpy(rgb).permute(2, 0, 1) / 255, "agent_pos": np.zeros(9)})
    assert action.shape == (7,) and torch.isfinite(action).all()
