"""Reading an original UVA workspace checkpoint (``*.ckpt``) without running anything stored in it.

The original writes ``torch.save({"cfg": ..., "state_dicts": {...}, "pickles": {...}})``: ``cfg`` is
the hydra config as an OmegaConf ``DictConfig``, ``state_dicts`` holds the policy's ``model`` and
``ema_model`` state dicts (and the optimizer's), ``pickles`` holds dill-pickled *bytes*, which are
never unpickled here.

Reading goes in two steps:

1. ``torch.load(weights_only=True)``: tensors and plain containers only. A file holding just those
   (e.g. a state dict saved on its own) is read this way.
2. If the file names other classes, it is read again with an explicit allow-list, ``STAND_INS``:
   the names an OmegaConf config pickles, each bound to an inert stand-in class
   (``PickledObject``) that only records the pickled arguments and state. No OmegaConf code runs
   (it need not be installed). A name outside the list is refused with a ``CheckpointError``
   naming it; nothing is ever unpickled freely.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uva_kit.errors import CheckpointError

#: The pickled names an OmegaConf config uses, read through inert stand-ins (see the module docstring).
#: The builtins and ``typing.Any`` appear as *type references* in OmegaConf's metadata
#: (``object_type``, ``key_type``, ``element_type``), never as values of the state dicts.
STAND_INS = (
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.base.Metadata",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "omegaconf.nodes.BytesNode",
    "omegaconf.nodes.PathNode",
    "typing.Any",
    "collections.defaultdict",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    "builtins.bytes",
)

_REFUSED_GLOBAL = re.compile(r"GLOBAL (\S+) was not an allowed global")


class PickledObject:
    """Inert stand-in for an allow-listed pickled object: keeps ``args`` and ``state``, runs nothing."""

    pickled_name = ""

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        instance.args = args
        instance.state = None
        return instance

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<stand-in for {self.pickled_name}>"


def _stand_in_classes() -> list[tuple[type, str]]:
    return [(type(name.rsplit(".", 1)[1], (PickledObject,), {"pickled_name": name}), name) for name in STAND_INS]


def _refused_name(error: Exception) -> str:
    match = _REFUSED_GLOBAL.search(str(error))
    if match is None:
        return str(error).strip().splitlines()[-1]
    name = match.group(1)
    return name if "." in name else f"builtins.{name}"


def _load_with_stand_ins(path: Path) -> Any:
    import torch

    try:
        with torch.serialization.safe_globals(_stand_in_classes()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} stores an object of class '{_refused_name(exc)}', which is not on the allow-list of "
            f"uva_kit.compat.workspace.STAND_INS (the classes of an OmegaConf config). It is not loaded, for "
            f"safety. Re-save the checkpoint with only tensors and plain containers."
        ) from None


def read_workspace(path: str | Path) -> dict:
    """The dict stored in an original workspace checkpoint (read safely, see the module docstring)."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist (expected an original UVA checkpoint, e.g. checkpoints/latest.ckpt).")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a torch checkpoint (torch.save writes a zip archive); is it truncated?")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        data = _load_with_stand_ins(path)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is corrupt or not a torch checkpoint ({exc}).") from None
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path} holds a {type(data).__name__}, not the dict an original workspace saves.")
    return dict(data)


def config_values(value: Any) -> Any:
    """Plain data (dicts, lists, scalars) from a stand-in OmegaConf config, e.g. ``read_workspace(p)["cfg"]``.

    Interpolations stay as their strings (``"${task.name}"``); other stand-ins become their repr.
    """
    if isinstance(value, PickledObject):
        state = value.state if isinstance(value.state, Mapping) else {}
        if "_content" in state:
            return config_values(state["_content"])
        if "_val" in state:
            return config_values(state["_val"])
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): config_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [config_values(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
