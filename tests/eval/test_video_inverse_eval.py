"""Video and inverse-dynamics evaluation on held-out windows of the shipped PushT set."""

from __future__ import annotations

import json

import attrs
import pytest
import torch
from cli_support import run_cli

from uva_kit.data import UVADataset, default_pusht_dataset
from uva_kit.errors import DataError
from uva_kit.eval.inverse_eval import action_errors, evaluate_inverse
from uva_kit.eval.video_eval import evaluate_video

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def held_out(model):
    training = model.spec.training
    return UVADataset(default_pusht_dataset(), model.spec.layout, split="val", val_ratio=training.val_ratio,
                      split_seed=training.seed)


def test_action_errors_are_euclidean_per_action():
    predicted = torch.tensor([[[3.0, 4.0], [1.0, 1.0]]])
    recorded = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    assert action_errors(predicted, recorded).tolist() == [[5.0, 0.0]]


def test_inverse_error_is_in_environment_units(tiny_model, tmp_path, monkeypatch):
    """A model whose prediction is the recorded chunk shifted by (3, 4) px has an error of exactly 5 env units."""
    dataset = held_out(tiny_model)
    truth = torch.stack([dataset[i]["actions"] for i in (0, len(dataset) - 1)])  # the two windows samples=2 picks

    def shifted_truth(history, future, generator=None):
        return truth + torch.tensor([3.0, 4.0])

    monkeypatch.setattr(tiny_model, "inverse_dynamics", shifted_truth)
    info = evaluate_inverse(tiny_model, dataset, tmp_path, samples=2, batch_size=2, progress=False)
    assert info["l2_env_units"]["mean"] == pytest.approx(5.0)
    assert info["batch_size"] == 2 and info["device"] == "cpu"  # they decide the noise of each window
    assert info["l2_env_units_per_step"] == pytest.approx([5.0] * 16)
    scale = 2.0 / (tiny_model.action_normalizer.high - tiny_model.action_normalizer.low)
    assert info["l2_normalized"]["mean"] == pytest.approx(float(torch.tensor([3.0, 4.0]).mul(scale).norm()), rel=1e-5)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "trajectories.png").is_file()


def test_evaluate_video_scores_both_modes_and_draws_them(tiny_model, tmp_path):
    features = torch.nn.Sequential(torch.nn.AdaptiveAvgPool3d(2), torch.nn.Flatten(), torch.nn.Linear(24, 8))
    info = evaluate_video(tiny_model, held_out(tiny_model), tmp_path, samples=3, num_iters=(1, 2), i3d=features,
                          pictures=2, batch_size=2, progress=False)
    assert info["batch_size"] == 2 and info["device"] == "cpu"  # they decide the noise of each window
    assert [(r["mode"], r["num_iter"]) for r in info["results"]] == [
        ("video", 1), ("video", 2), ("forward_dynamics", 1), ("forward_dynamics", 2)]
    for r in info["results"]:
        assert r["clips"] == 3 and len(r["psnr_per_future_frame"]) == 4
        assert r["fvd"] > 0  # an untrained model's frames are noise, far from the real ones
        assert r["psnr"] < 20
        for key in ("grid_png", "side_by_side_mp4", "side_by_side_gif"):
            assert (tmp_path / r[key]).is_file()


def test_evaluate_video_without_pictures(tiny_model, tmp_path):
    info = evaluate_video(tiny_model, held_out(tiny_model), tmp_path, samples=2, modes=("video",), pictures=0,
                          progress=False)
    assert "grid_png" not in info["results"][0] and not (tmp_path / "pictures").exists()
    assert "PSNR" in (tmp_path / "report.html").read_text()


def test_action_free_video_scores_the_video_mode_and_refuses_what_needs_actions(tiny_model, tmp_path):
    recorded = held_out(tiny_model).episodes
    action_free = UVADataset(attrs.evolve(recorded, actions=recorded.actions[:, :0], stats={}), tiny_model.spec.layout,
                             split="all")
    info = evaluate_video(tiny_model, action_free, tmp_path, samples=2, modes=("video",), pictures=0, progress=False)
    assert [r["mode"] for r in info["results"]] == ["video"]
    with pytest.raises(DataError, match="has none \\(action-free video\\): evaluate the video mode alone"):
        evaluate_video(tiny_model, action_free, tmp_path, samples=2, pictures=0, progress=False)
    with pytest.raises(DataError, match="scored against the recorded actions, and this dataset has none"):
        evaluate_inverse(tiny_model, action_free, tmp_path, samples=2, progress=False)


@pytest.mark.slow
def test_eval_video_and_inverse_cli(tiny_checkpoint, tmp_path):
    out = tmp_path / "video"
    result = run_cli("eval", "video", "--checkpoint", str(tiny_checkpoint), "--samples", "2", "--no-fvd",
                     "--out", str(out), "--no-progress", env_extra=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "eval_info.json").read_text())["results"]
    assert {r["mode"] for r in results} == {"video", "forward_dynamics"} and all(r["fvd"] is None for r in results)
    assert "not computed: turned off (--no-fvd" in (out / "report.html").read_text()

    result = run_cli("eval", "video", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "fvd"),
                     env_extra={**ONE_THREAD, "UVA_KIT_I3D_WEIGHTS": ""})
    assert result.returncode == 2 and "i3d_convert" in result.stderr and not (tmp_path / "fvd").exists()

    out = tmp_path / "inverse"
    result = run_cli("eval", "inverse", "--checkpoint", str(tiny_checkpoint), "--samples", "4", "--out", str(out),
                     "--no-progress", env_extra=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "eval_info.json").read_text())
    assert info["windows"] == 4 and info["l2_env_units"]["mean"] > 0
    assert info["options"] == {"checkpoint": str(tiny_checkpoint), "data": "default", "split": "val", "seed": 0,
                               "samples": 4, "batch_size": 16, "device": None}


def test_a_held_out_split_without_windows_says_to_use_split_all(tiny_model, tmp_path):
    import argparse

    import numpy as np
    import zarr

    from uva_kit.cli.eval import _held_out
    from uva_kit.errors import UvaKitError

    steps = 40  # one episode: too few for a validation share
    root = zarr.open_group(str(tmp_path / "one.zarr"), mode="w", zarr_format=2)
    root.create_array("data/img", data=np.zeros((steps, 96, 96, 3), np.uint8))
    root.create_array("data/state", data=np.zeros((steps, 5), np.float32))
    root.create_array("data/action", data=np.zeros((steps, 2), np.float32))
    root.create_array("meta/episode_ends", data=np.array([steps], np.int64))
    args = argparse.Namespace(data=str(tmp_path / "one.zarr"), split="val")
    with pytest.raises(UvaKitError, match="'val' split has no windows .* with --split all"):
        _held_out(args, tiny_model)
    args.split = "all"
    assert len(_held_out(args, tiny_model)) == steps - 23


def test_windows_give_the_model_their_instruction_and_proprioception(tmp_path):
    import uva_kit
    from uva_kit.train.loop import fit_normalizers

    spec = uva_kit.load_spec("pusht-tiny", [
        "modalities=[{type='video'}, {type='action'}, {type='language'}, {type='proprio'}]",
        "modes=[{mode={type='video', given=['proprio']}}, {mode={type='forward_dynamics', given=['action', 'proprio']}},"
        " {mode={type='inverse_dynamics', given=['proprio']}}]"])
    model = uva_kit.build(spec).eval()
    dataset = UVADataset(default_pusht_dataset(), spec.layout, split="val", instructions=True)
    fit_normalizers(model, dataset.stats)
    assert evaluate_inverse(model, dataset, tmp_path, samples=2, progress=False)["windows"] == 2
    features = torch.nn.Sequential(torch.nn.AdaptiveAvgPool3d(2), torch.nn.Flatten(), torch.nn.Linear(24, 8))
    info = evaluate_video(model, dataset, tmp_path, samples=2, i3d=features, pictures=1, progress=False)
    assert [r["clips"] for r in info["results"]] == [2, 2]
