"""Builds the fused-op extension ``uva_kit._C`` from csrc/ with torch.utils.cpp_extension (and ninja).

With a CUDA build of torch and the CUDA toolkit (``CUDA_HOME``), it is a CUDAExtension that also
compiles csrc/cuda/ (kernels + their torch binding); otherwise a CppExtension of csrc/*.cpp.
Without torch at build time or without a C++ compiler, the package installs without the extension
and runs on its PyTorch reference ops; ``uva-kit info`` says which path is active. Set
``UVA_KIT_BUILD_EXTENSION=0`` to skip the build on purpose. Install with
``pip install --no-build-isolation`` so the build uses the torch you already have.
"""

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent


def _skip(reason):
    print(f"uva_kit: not building the C++ extension ({reason}); the PyTorch reference ops will be used.", file=sys.stderr)
    return {}


def extension_kwargs():
    if os.environ.get("UVA_KIT_BUILD_EXTENSION", "1") == "0":
        return _skip("UVA_KIT_BUILD_EXTENSION=0")
    try:
        import torch
        from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension
    except ImportError:
        return _skip("torch is not importable at build time; use pip install --no-build-isolation")
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        return _skip("no C++ compiler found")
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").glob("*.cpp"))
    # at::parallel_for is inline: it runs threads only in code compiled with OpenMP, as torch's Linux builds
    # are. The extension then shares torch's already-loaded libgomp, so torch.set_num_threads applies.
    openmp = ["-fopenmp"] if torch._C.has_openmp and sys.platform.startswith("linux") else []
    if torch.version.cuda and CUDA_HOME and os.environ.get("UVA_KIT_BUILD_CUDA", "1") != "0":
        cuda_sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc" / "cuda").glob("*.c[pu]*"))
        extension = CUDAExtension(
            "uva_kit._C", sources + cuda_sources, include_dirs=[str(ROOT / "csrc")],
            extra_compile_args={"cxx": ["-O3", *openmp], "nvcc": ["-O3", "-std=c++17"]}, extra_link_args=openmp,
        )
    else:
        extension = CppExtension("uva_kit._C", sources, include_dirs=[str(ROOT / "csrc")],
                                 extra_compile_args=["-O3", *openmp], extra_link_args=openmp)
    use_ninja = shutil.which("ninja") is not None
    return {"ext_modules": [extension], "cmdclass": {"build_ext": BuildExtension.with_options(use_ninja=use_ninja)}}


setup(**extension_kwargs())
