"""Loss curves: a training run keeps OUT/curves.png up to date, and `uva-kit plot` draws or compares runs."""

from __future__ import annotations

import json

import pytest
from synthetic import SyntheticWindows

from uva_kit import load_spec
from uva_kit.cli import main
from uva_kit.train import fit
from uva_kit.train.metrics import read_metrics


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures saved during a test, in order."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig

    def keep(figure, *args, **kwargs):
        figures.append(figure)
        return savefig(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


def lines(figure) -> dict[str, tuple[list, list]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in figure.axes[0].get_lines()}


def fake_run(folder, records: list[dict]):
    """A run folder as `uva-kit train` leaves it, as far as plotting reads it."""
    folder.mkdir()
    (folder / "train_config.json").write_text("{}")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return folder


def test_a_run_redraws_its_curves_with_every_logged_step_and_loss(tmp_path, drawn):
    """Checkpoints from step 1 on: the first, before any record, draws nothing (and does not fail)."""
    spec = load_spec("pusht-tiny", ["training.steps=5", "training.batch_size=4", "training.log_every=2",
                                    "training.val_every=3", "training.checkpoint_every=1", "training.keep_last=1"])
    run = tmp_path / "run"
    fit(spec, SyntheticWindows(4), run, val_dataset=SyntheticWindows(4, seed=1), progress=False)

    assert (run / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert len(drawn) == 4  # steps 2, 3, 4 and 5 (step 1 had no record yet)
    train, val = read_metrics(run, "train"), read_metrics(run, "val")
    terms = sorted({key for record in train for key in record if key.startswith("loss/")})
    expected = {"train": ([2, 4, 5], [r["loss"] for r in train]), "validation (EMA)": ([3, 5], [r["loss"] for r in val])}
    expected |= {f"train {key[5:]}": ([r["step"] for r in train if key in r], [r[key] for r in train if key in r])
                 for key in terms}
    assert terms and lines(drawn[-1]) == expected
    assert drawn[-1].axes[0].get_yscale() == "log"


def test_a_run_whose_first_record_is_an_evaluation_score_draws_its_curves_once_it_has_a_loss(tmp_path, drawn):
    spec = load_spec("pusht-tiny", ["training.steps=2", "training.batch_size=4", "training.log_every=2",
                                    "training.eval_every=1", "training.checkpoint_every=10"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", evaluate=lambda model, step: 0.5, progress=False)
    assert [r["split"] for r in read_metrics(tmp_path / "run")] == ["eval", "train", "eval"]
    assert len(drawn) == 1 and set(lines(drawn[0])) >= {"train"}


def test_plot_compares_runs_under_their_names_or_labels(tmp_path, drawn, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fake_run(tmp_path / "a", [{"step": 10, "split": "train", "loss": 2.0, "loss/action": 1.0},
                              {"step": 20, "split": "train", "loss": 1.5}, {"step": 20, "split": "val", "loss": 1.8}])
    fake_run(tmp_path / "b", [{"step": 10, "split": "train", "loss": 0.0}])

    assert main(["plot", "a", "b"]) == 0
    assert lines(drawn[-1]) == {"a: train": ([10, 20], [2.0, 1.5]), "a: validation (EMA)": ([20], [1.8]),
                                "b: train": ([10], [0.0])}
    assert drawn[-1].axes[0].get_yscale() == "linear"  # a loss of 0 has no place on a log scale
    output = capsys.readouterr().out
    assert "a: train loss 1.5 at step 20, validation loss (EMA weights) 1.8 at step 20" in output
    assert (tmp_path / "loss_comparison.png").is_file() and "loss curves: loss_comparison.png" in output

    assert main(["plot", "a", "b", "--labels", "lr 1e-4", "lr 3e-4", "--out", "plots/lr.png"]) == 0
    assert set(lines(drawn[-1])) == {"lr 1e-4: train", "lr 1e-4: validation (EMA)", "lr 3e-4: train"}
    assert (tmp_path / "plots" / "lr.png").is_file()  # its folder made

    assert main(["plot", "a"]) == 0  # one run: into the run, with each modality's loss
    assert set(lines(drawn[-1])) == {"train", "train action", "validation (EMA)"} and (tmp_path / "a" / "curves.png").is_file()


def test_plot_leaves_out_a_record_the_training_run_is_still_writing(tmp_path, drawn):
    run = fake_run(tmp_path / "run", [{"step": 10, "split": "train", "loss": 2.0}])
    with (run / "metrics.jsonl").open("a") as log:
        log.write('{"step": 20, "split": "tra')
    assert main(["plot", str(run)]) == 0
    assert lines(drawn[-1]) == {"train": ([10], [2.0])}


def test_plot_says_what_to_do_with_a_folder_that_is_no_run_or_has_no_records_yet(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    fake_run(tmp_path / "fresh", [])
    assert main(["plot", str(tmp_path / "data")]) == 2
    assert "is not a training run (no train_config.json): give the --out folder of `uva-kit train`" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "fresh")]) == 2
    assert ("has no loss records yet (metrics.jsonl is empty or missing): a run writes one every training.log_every "
            "steps") in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(tmp_path / "fresh"), str(tmp_path / "fresh"), "--labels", "one"])
    assert exit_info.value.code == 2 and "--labels gives 1 names for 2 runs; give one per run" in capsys.readouterr().err
