"""Action-free video mixed into training (``training.video_data_ratio`` of the micro-batches).

Its batches carry no actions, so they train only the modes of the mixture that need none (of the built-in
modes, ``video``). Normalization statistics and validation come from the action data alone.
"""

from __future__ import annotations

from typing import Any

import torch

from uva_kit.errors import DataError

HOW_TO_GIVE = "fit(..., video_dataset=...), uva-kit train --video-data DIR"
# The layout settings that place a window's frames (the action settings do not matter to action-free video).
FRAME_LAYOUT = ("history_frames", "future_frames", "horizon", "frame_stride", "frame_offset", "pad_before", "pad_after")


def video_ratio_problem(ratio: float, given: bool) -> str | None:
    """What is wrong with mixing in action-free video at ``ratio`` with (``given``) or without a video dataset."""
    if ratio > 0 and not given:
        return (f"training.video_data_ratio is {ratio:g} but no action-free video dataset is given ({HOW_TO_GIVE}); "
                "give one or set training.video_data_ratio = 0")
    if ratio == 0 and given:
        return ("an action-free video dataset is given but training.video_data_ratio is 0, so it would never be "
                "used; set the share of micro-batches that train on it, e.g. --set training.video_data_ratio=0.5")
    return None


def check_video_data(dataset: Any, video_dataset: Any) -> bool:
    """DataError unless ``video_dataset``'s windows have the frame layout (where both datasets name a ``layout``;
    else the frame counts) and frame rate of ``dataset``'s and frames in [0, 1]; returns whether its windows carry
    actions (which training leaves out)."""
    from uva_kit.model.uva import check_frames

    layouts = [getattr(d, "layout", None) for d in (dataset, video_dataset)]
    if None not in layouts:
        differ = [f"{name} {getattr(layouts[1], name)} (action data: {getattr(layouts[0], name)})"
                  for name in FRAME_LAYOUT if getattr(layouts[0], name) != getattr(layouts[1], name)]
        if differ:
            raise DataError(f"the video data's windows are laid out differently: {', '.join(differ)}; read both with "
                            "the same layout (UVADataset(path, spec.layout))")
    if not len(video_dataset):
        raise DataError("the action-free video dataset has no windows (its episodes are too short for the layout)")
    main, video = dataset[0], video_dataset[0]
    for key in ("history_frames", "future_frames"):
        check_frames(torch.as_tensor(video[key]), f"the video data's {key}")
        if len(video[key]) != len(main[key]):
            raise DataError(f"the video data's windows have {len(video[key])} {key.replace('_', ' ')}, the action "
                            f"data's {len(main[key])}: read both with the same layout (UVADataset(path, spec.layout))")
    rates = [getattr(getattr(d, "episodes", None), "fps", None) for d in (dataset, video_dataset)]
    if None not in rates and rates[0] != rates[1]:
        raise DataError(f"the video data is recorded at {rates[1]:g} fps, the action data at {rates[0]:g} fps: the "
                        f"layout's frame stride would span different times; resample the video to {rates[0]:g} fps "
                        "(e.g. keep every n-th frame) before writing it")
    return "actions" in video


class VideoOnly(torch.utils.data.Dataset):
    """``dataset``'s frames (or cached latents) and instruction, what the video share of training reads: no
    actions, and no robot state or other per-step signal, which action-free video (often of another embodiment,
    e.g. people) does not share with the action data."""

    KEYS = ("history_frames", "future_frames", "history_latents", "future_latents", "instruction")

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        return {key: value for key, value in self.dataset[index].items() if key in self.KEYS}
