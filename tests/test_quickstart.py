"""The main job end to end at a tiny budget: train, evaluate beside baselines, report; rerun safely."""

from __future__ import annotations

import json

import pytest

from uva_kit.quickstart import QuickstartOptions, _verdict, run_quickstart


def test_verdict_needs_a_clear_margin_over_every_baseline():
    runs = [{"label": "uva", "score": 0.30}, {"label": "random", "score": 0.10}, {"label": "still", "score": 0.08}]
    assert _verdict(runs)[0] is True
    runs[1]["score"] = 0.28
    beats, text = _verdict(runs)
    assert beats is False and "does NOT clearly beat" in text and "random 0.280" in text


@pytest.mark.slow
def test_quickstart_writes_a_report_and_reruns_safely(tmp_path):
    """The default preset (pusht-small), on a tiny budget."""
    options = QuickstartOptions(tmp_path / "qs", minutes=0.05, episodes=2, demos=3, max_steps=20, videos=1)
    summary = run_quickstart(options)
    out = options.out
    assert [run["label"] for run in summary["runs"]] == ["uva", "random", "still"]
    assert all(run["episodes"] == 2 for run in summary["runs"])
    assert "both baselines on the same seeds" in summary["verdict"]
    collected = json.loads((out / "demos" / "collect_report.json").read_text())
    assert collected["written_episodes"] == 3  # the demonstrations were collected into OUT/demos
    assert json.loads((out / "train" / "train_config.json").read_text())["data"] == str(out / "demos")
    for name in ("report.html", "loss.png", "summary.json", "eval/eval_info.json", "train/metrics.jsonl"):
        assert (out / name).exists(), name
    html = (out / "report.html").read_text()
    assert summary["verdict"] in html and "Predicted vs real future frames" in html and "data:image/png;base64" in html
    assert "Does the policy use what it sees?" in html
    assert f"trained on {out / 'demos'}" in html and "2 PushT episodes on seeds 100000..100001, at most 20 steps each, 2 side by side" in html
    assert html.count("data:image/gif;base64") == 3 and 'href="eval/videos/uva/seed_100000.mp4"' in html  # rollouts
    assert summary["observation_use"]["action_loss"] > 0 and summary["observation_use"]["action_loss_other_frames"] > 0
    state = json.loads((out / "quickstart.json").read_text())
    assert state["trained"] and state["evaluated"]

    eval_info = (out / "eval" / "eval_info.json").stat().st_mtime
    again = run_quickstart(options)  # a rerun skips finished stages
    assert again["runs"] == summary["runs"] and (out / "eval" / "eval_info.json").stat().st_mtime == eval_info
