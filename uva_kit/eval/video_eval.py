"""Video quality of ``generate_video`` and ``forward_dynamics`` on held-out windows: PSNR, SSIM, FVD, pictures.

Each held-out window gives history frames, the real future frames and the recorded actions. The model
predicts the future from the history alone (``video``) and from the history plus the actions
(``forward_dynamics``), with ``num_iter`` MAR passes (the paper compares 1 and 8). Real frames are resized to
the model's image size (bilinear, antialiased) before comparing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from uva_kit.errors import DataError, InputError
from uva_kit.eval.fvd import frechet_distance, i3d_features
from uva_kit.eval.image_metrics import psnr, ssim
from uva_kit.eval.plots import bar_plot, line_plot
from uva_kit.eval.report import Report
from uva_kit.eval.visuals import (
    add_caption,
    enlarge,
    frame_grid_plot,
    side_by_side,
    to_uint8,
    write_gif,
    write_mp4,
)
from uva_kit.eval.window_conditions import sliced, window_conditions

MODES = ("video", "forward_dynamics")
PICTURE_SCALE = 4


def window_indices(count: int, samples: int) -> list[int]:
    """``samples`` window indices spread evenly over ``count`` windows (all of them if fewer)."""
    if count == 0:
        raise InputError("the dataset split has no windows")
    return sorted(set(np.linspace(0, count - 1, min(samples, count)).round().astype(int).tolist()))


def held_out_clips(model, dataset, samples: int) -> dict:
    """History frames, future frames (at the model's image size) and actions (none in action-free video) of evenly
    spread windows, stacked, and what else they give ``model`` (``conditions``: see :func:`window_conditions`)."""
    image_size = model.spec.layout.image_size
    items = [dataset[i] for i in window_indices(len(dataset), samples)]
    keys = ("history_frames", "future_frames") + (("actions",) if "actions" in items[0] else ())
    clips = {key: torch.stack([item[key] for item in items]) for key in keys}
    clips["conditions"] = window_conditions(model, items)
    future = clips["future_frames"]
    if future.shape[-1] != image_size:
        flat = F.interpolate(future.flatten(0, 1), size=(image_size, image_size), mode="bilinear", antialias=True,
                             align_corners=False)
        clips["future_frames"] = flat.reshape(*future.shape[:3], image_size, image_size).clamp(0, 1)
    return clips


@torch.no_grad()
def predict(model, mode: str, clips: dict, num_iter: int, batch_size: int, seed: int, progress: bool) -> torch.Tensor:
    """Predicted future frames (N, T, 3, s, s) of every clip for ``mode`` ("video" or "forward_dynamics")."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    outputs = []
    count = len(clips["history_frames"])
    for start in tqdm(range(0, count, batch_size), desc=f"{mode} (num_iter {num_iter})", unit="batch", disable=not progress):
        history = clips["history_frames"][start:start + batch_size]
        conditions = sliced(clips["conditions"], slice(start, start + batch_size))
        if mode == "video":
            frames = model.generate_video(history, num_iter=num_iter, generator=generator, **conditions)
        else:
            frames = model.forward_dynamics(history, clips["actions"][start:start + batch_size], num_iter=num_iter,
                                            generator=generator, **conditions)
        outputs.append(frames.float().cpu())
    return torch.cat(outputs)


def evaluate_video(model, dataset, out: Path, *, samples: int = 32, num_iters: Sequence[int] = (1,),
                   modes: Sequence[str] = MODES, i3d=None, batch_size: int = 8, pictures: int = 4, seed: int = 0,
                   progress: bool = True, run_info: dict | None = None) -> dict:
    """Score every (mode, num_iter) on the same windows; write eval_info.json (led by ``run_info``, the command and
    its options), pictures and report.html to ``out``."""
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise InputError(f"unknown video mode(s) {unknown}; choose from {list(MODES)}")
    clips = held_out_clips(model, dataset, samples)
    if "forward_dynamics" in modes and "actions" not in clips:
        raise DataError("forward_dynamics predicts the future from the recorded actions, and this dataset has none "
                        "(action-free video): evaluate the video mode alone (uva-kit eval video --modes video)")
    real = clips["future_frames"]
    real_features = i3d_features(i3d, real, progress=progress) if i3d is not None else None
    results = []
    for mode in modes:
        for num_iter in num_iters:
            fake = predict(model, mode, clips, num_iter, batch_size, seed, progress)
            frame_psnr, frame_ssim = psnr(fake, real), ssim(fake, real)
            result = {
                "mode": mode, "num_iter": num_iter, "clips": len(real),
                "psnr": float(frame_psnr.mean()), "ssim": float(frame_ssim.mean()),
                "psnr_per_future_frame": frame_psnr.mean(dim=0).tolist(),
                "ssim_per_future_frame": frame_ssim.mean(dim=0).tolist(),
                "fvd": frechet_distance(real_features, i3d_features(i3d, fake, progress=progress)) if i3d is not None else None,
            }
            if pictures > 0:
                result.update(_write_pictures(out, f"{mode}_iter{num_iter}", clips["history_frames"], real, fake, pictures))
            results.append(result)
    info = {**(run_info or {}), "samples": len(real), "image_size": model.spec.layout.image_size, "seed": seed, "batch_size": batch_size,
            "device": str(model.device), "fvd_features": "I3D Kinetics-400 logits" if i3d is not None else None,
            "results": results}
    (out / "eval_info.json").write_text(json.dumps(info, indent=2))
    _write_report(info, out)
    return info


def _write_pictures(out: Path, name: str, history, real, fake, count: int) -> dict:
    """A labelled PNG grid (per window: a real row, then a predicted row) and an MP4/GIF of real | predicted, each
    frame captioned with its place in the window (history or future)."""
    size = real.shape[-1]
    history = F.interpolate(history[:count].flatten(0, 1), size=(size, size), mode="bilinear", antialias=True,
                            align_corners=False).reshape(-1, history.shape[1], 3, size, size)
    rows = []
    for h, r, f in zip(to_uint8(history), to_uint8(real[:count]), to_uint8(fake[:count])):
        rows += [np.concatenate([h, r]), np.concatenate([h, f])]
    phases = frame_phases(history.shape[1], real.shape[1])
    folder = out / "pictures"
    folder.mkdir(exist_ok=True)
    png = frame_grid_plot(rows, folder / f"{name}_grid.png", column_labels=phases,
                          row_labels=[f"window {i // 2 + 1}\n{'real' if i % 2 == 0 else 'predicted'}" for i in range(len(rows))],
                          title=name.replace("_iter", ", num_iter "))
    # animation: history then future, real on the left, predicted on the right, windows stacked vertically
    left = add_caption(enlarge(np.concatenate(rows[0::2], axis=1), PICTURE_SCALE), ["real"] * len(phases))
    right = add_caption(enlarge(np.concatenate(rows[1::2], axis=1), PICTURE_SCALE), ["predicted"] * len(phases))
    animation = add_caption(side_by_side(left, right), phases)
    mp4 = write_mp4(animation, folder / f"{name}_side_by_side.mp4", fps=2)
    gif = write_gif(animation, folder / f"{name}_side_by_side.gif", fps=2)
    return {"grid_png": str(png.relative_to(out)), "side_by_side_mp4": str(mp4.relative_to(out)),
            "side_by_side_gif": str(gif.relative_to(out))}


def frame_phases(history: int, future: int) -> list[str]:
    """The caption of each frame of a window: "history 1/4" .. "history 4/4", "future 1/4" .. "future 4/4"."""
    return [f"history {i}/{history}" for i in range(1, history + 1)] + [f"future {i}/{future}" for i in range(1, future + 1)]


def _psnr_plots(info: dict, out: Path) -> None:
    """psnr.png (per mode, a bar per num_iter) and psnr_per_frame.png (a line per mode and num_iter)."""
    results = info["results"]
    modes = list(dict.fromkeys(r["mode"] for r in results))
    psnr_of = {(r["mode"], r["num_iter"]): r["psnr"] for r in results}
    bar_plot(modes, {f"num_iter {n}": [psnr_of[(m, n)] for m in modes] for n in dict.fromkeys(r["num_iter"] for r in results)},
             out / "psnr.png", ylabel="PSNR (dB)", title=f"PSNR over {info['samples']} windows, higher is better",
             value_format="{:.1f}")
    line_plot({f"{r['mode']}, num_iter {r['num_iter']}": (list(range(1, len(r["psnr_per_future_frame"]) + 1)),
                                                          r["psnr_per_future_frame"]) for r in results},
              out / "psnr_per_frame.png", xlabel="future frame (1 = the first predicted)", ylabel="PSNR (dB)",
              title="PSNR by future frame")


def _write_report(info: dict, out: Path) -> None:
    results = info["results"]
    _psnr_plots(info, out)
    report = Report("Video prediction on held-out windows")
    report.paragraph(f"{info['samples']} held-out windows, frames compared at {info['image_size']}x{info['image_size']}. "
                     "video = generate_video (history only); forward_dynamics = history plus the recorded actions. "
                     "FVD: Fréchet distance of I3D Kinetics-400 logits (lower is better)"
                     + ("." if info["fvd_features"] else "; not computed: turned off (--no-fvd; from Python, i3d=None)."))
    report.table(["mode", "num_iter", "PSNR (dB, higher is better)", "SSIM (at most 1, higher is better)", "FVD (lower is better)"],
                 [[r["mode"], r["num_iter"], r["psnr"], r["ssim"], r["fvd"]] for r in results])
    report.image(out / "psnr.png")
    report.image(out / "psnr_per_frame.png")
    pictured = [r for r in results if "grid_png" in r]  # none with pictures=0
    if pictured:
        report.heading("Real vs predicted frames: the history the model saw, then the future it predicted")
    for r in pictured:
        report.image(out / r["side_by_side_gif"], caption=f"{r['mode']}, num_iter {r['num_iter']}", link=r["side_by_side_mp4"])
        report.image(out / r["grid_png"], caption=f"{r['mode']}, num_iter {r['num_iter']}: grid")
    report.provenance(info)
    report.write(out / "report.html")
