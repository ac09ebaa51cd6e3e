"""Regenerates omegaconf_workspace.ckpt: a workspace-shaped checkpoint whose ``cfg`` is a real OmegaConf config.

Not run by the tests (they only read the file). Needs omegaconf 2.3 (the version hydra 1.3 uses):
    pip install --target /tmp/omega omegaconf==2.3.0
    PYTHONPATH=/tmp/omega python tests/compat/data/make_omegaconf_workspace.py
"""

from pathlib import Path

import torch
from omegaconf import OmegaConf

CONFIG = """
name: train_uva
_target_: unified_video_action.workspace.train_unified_video_action_workspace.TrainUnifiedVideoActionWorkspace
task:
  name: pusht
  shape_meta:
    obs: {image: {shape: [3, 96, 96], type: rgb}, agent_pos: {shape: [2], type: low_dim}}
    action: {shape: [2]}
  task_modes: []
model:
  policy:
    n_action_steps: 8
    optimizer: {lr: 1.0e-4, betas: [0.9, 0.95], weight_decay: 0.02}
    shape_meta: ${task.shape_meta}
    selected_training_mode: null
    use_ema: true
"""

if __name__ == "__main__":
    cfg = OmegaConf.create(CONFIG)
    OmegaConf.set_struct(cfg, True)
    weights = {"model.fake_latent_x": torch.arange(4.0).reshape(1, 4)}
    torch.save({"cfg": cfg, "state_dicts": {"model": weights, "ema_model": weights},
                "pickles": {"_output_dir": b"dill bytes"}}, Path(__file__).with_name("omegaconf_workspace.ckpt"))
