"""MP4 (H.264) video files through PyAV: a streaming writer and a whole-file reader."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from uva_kit.errors import DataError

CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"


class VideoWriter:
    """Appends uint8 (H, W, 3) RGB frames to an MP4 file; ``crf`` sets quality (0 lossless .. 51 worst)."""

    def __init__(self, path: str | Path, fps: int, crf: int = 18):
        self.container = av.open(str(path), mode="w")
        self.stream = None
        self.fps = fps
        self.crf = crf
        self.frames_written = 0

    def write(self, frames: np.ndarray) -> None:
        for frame in frames:
            if self.stream is None:
                self.stream = self.container.add_stream(CODEC, rate=self.fps)
                self.stream.width, self.stream.height = frame.shape[1], frame.shape[0]
                self.stream.pix_fmt = PIXEL_FORMAT
                self.stream.time_base = Fraction(1, self.fps)
                self.stream.options = {"crf": str(self.crf)}
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = self.frames_written
            self.container.mux(self.stream.encode(video_frame))
            self.frames_written += 1

    def close(self) -> None:
        if self.stream is not None:
            self.container.mux(self.stream.encode(None))
        self.container.close()


def read_video(path: str | Path, expected_frames: int | None = None) -> np.ndarray:
    """All frames of a video file as uint8 (N, H, W, 3); DataError if unreadable or shorter than expected."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: video file is missing")
    try:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise DataError(f"{path}: cannot decode the video ({exc}); the file is corrupt or truncated") from exc
    if expected_frames is not None and len(frames) < expected_frames:
        raise DataError(
            f"{path}: video has {len(frames)} frames but the metadata lists {expected_frames}; "
            "the file is truncated (re-collect or re-download it)"
        )
    if not frames:
        raise DataError(f"{path}: video has no frames")
    return np.stack(frames)
