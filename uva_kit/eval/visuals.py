"""Pictures of an evaluation: MP4s and GIFs of rollouts, side-by-side predicted-vs-real clips, frame grids.

Frames are uint8 (T, H, W, 3) arrays. Small frames (96x96) are enlarged ``scale`` times (nearest
neighbour) so they are visible in a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from uva_kit.errors import InputError
from uva_kit.eval.plots import pyplot

SEPARATOR = 2  # px of white between panels
ROLLOUT_SCALE = 2  # rollout frames (96 px) enlarged for the videos
CAPTION_HEIGHT = 14  # px of the text strip add_caption puts above frames


def to_uint8(frames) -> np.ndarray:
    """Float frames in [0, 1] (..., 3, H, W) (a torch tensor or array) -> uint8 (..., H, W, 3)."""
    array = frames.detach().cpu().float().numpy() if hasattr(frames, "detach") else np.asarray(frames, dtype=np.float32)
    return (np.clip(np.moveaxis(array, -3, -1), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def enlarge(frames: np.ndarray, scale: int) -> np.ndarray:
    return frames.repeat(scale, axis=-3).repeat(scale, axis=-2) if scale > 1 else frames


def side_by_side(*clips: np.ndarray) -> np.ndarray:
    """Clips (T, H, W, 3) of equal shape joined left to right with a white separator."""
    if len({clip.shape for clip in clips}) != 1:
        raise InputError(f"clips must have the same shape, got {[clip.shape for clip in clips]}")
    gap = np.full((*clips[0].shape[:2], SEPARATOR, 3), 255, dtype=np.uint8)
    parts = [part for clip in clips for part in (clip, gap)][:-1]
    return np.concatenate(parts, axis=2)


def add_caption(frames: np.ndarray, captions: Sequence[str]) -> np.ndarray:
    """Frames (T, H, W, 3) with a white strip on top holding ``captions[t]``, centred (text wider than a frame is cut)."""
    from PIL import Image, ImageDraw, ImageFont

    if len(captions) != len(frames):
        raise InputError(f"need one caption per frame, got {len(captions)} for {len(frames)} frames")
    font = ImageFont.load_default(size=CAPTION_HEIGHT - 4)
    captioned = []
    for frame, caption in zip(frames, captions):
        strip = Image.new("RGB", (frame.shape[1], CAPTION_HEIGHT), "white")
        draw = ImageDraw.Draw(strip)
        draw.text((frame.shape[1] / 2, CAPTION_HEIGHT / 2), caption, fill="black", font=font, anchor="mm")
        captioned.append(np.concatenate([np.asarray(strip), frame], axis=0))
    return np.stack(captioned)


def frame_grid_plot(rows: Sequence[np.ndarray], path: str | Path, *, row_labels: Sequence[str],
                    column_labels: Sequence[str], title: str) -> Path:
    """Rows of frames (T, H, W, 3) as a labelled picture grid: ``row_labels`` on the left, ``column_labels`` on top."""
    plt = pyplot()
    columns = len(column_labels)
    figure, axes = plt.subplots(len(rows), columns, figsize=(0.9 * columns + 0.8, 0.9 * len(rows) + 0.6), squeeze=False)
    for r, row in enumerate(rows):
        for c, frame in enumerate(row):
            axes[r, c].imshow(frame, interpolation="nearest")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
    for c, label in enumerate(column_labels):
        axes[0, c].set_title(label, fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = 10) -> Path:
    """H.264 MP4 (sides rounded up to even sizes, as yuv420p needs)."""
    from uva_kit.data.video import VideoWriter

    height, width = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    writer = VideoWriter(path, fps=fps)
    try:
        writer.write(frames)
    finally:
        writer.close()
    return Path(path)


def write_gif(frames: np.ndarray, path: str | Path, fps: int = 10) -> Path:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return Path(path)


def write_rollout(frames: np.ndarray, rewards: Sequence[float], stem: Path) -> tuple[Path, Path]:
    """An episode as ``stem``.mp4 and ``stem``.gif, enlarged ROLLOUT_SCALE times, each frame captioned with its step,
    reward and best reward so far (frames: the reset, then one per step)."""
    clip = add_caption(enlarge(frames, ROLLOUT_SCALE), rollout_captions(rewards))
    stem.parent.mkdir(parents=True, exist_ok=True)
    return write_mp4(clip, stem.with_suffix(".mp4")), write_gif(clip, stem.with_suffix(".gif"))


def rollout_captions(rewards: Sequence[float]) -> list[str]:
    """A caption per frame of an episode: "step 0 (start)", then "step t: reward r, best b" after each step."""
    best = np.maximum.accumulate(rewards) if len(rewards) else []
    return ["step 0 (start)"] + [f"step {t}: reward {r:.2f}, best {b:.2f}" for t, (r, b) in enumerate(zip(rewards, best), 1)]
