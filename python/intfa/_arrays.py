"""Array-framework adapters: which library an array comes from, how to allocate
an output like it, and which CUDA stream it is ordered on.

The C++ extension takes any DLPack-capable array without a copy; only the
outputs (allocated here, in the caller's framework and on its device) and the
stream need to know the framework.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

from . import _core

FLOAT_DTYPES = ("float32", "float16", "bfloat16")


class Adapter:
    """Allocation and stream for one array framework."""

    name = "?"
    has_bf16 = True
    no_bf16_reason = ""

    def empty(self, like, shape, dtype: str):
        raise NotImplementedError

    def stream(self, like) -> int:
        return 0

    def device(self, like):
        return contextlib.nullcontext()

    def dtype_name(self, x) -> str:
        return str(x.dtype).rsplit(".", 1)[-1]

    def astype(self, x, dtype: str):
        return x.astype(dtype)

    def finish(self, x):
        return x

    def concat(self, xs, axis):
        raise NotImplementedError


class NumpyAdapter(Adapter):
    name = "numpy"
    has_bf16 = False
    no_bf16_reason = "NumPy has no bfloat16 output"

    def empty(self, like, shape, dtype):
        return np.empty(shape, dtype=np.dtype(dtype))

    def dtype_name(self, x):
        return x.dtype.name

    def concat(self, xs, axis):
        return np.concatenate(xs, axis=axis)


class TorchAdapter(Adapter):
    name = "torch"

    def __init__(self, torch):
        self.torch = torch

    def _dtype(self, name):
        return getattr(self.torch, name)

    def empty(self, like, shape, dtype):
        return self.torch.empty(shape, dtype=self._dtype(dtype), device=like.device)

    def stream(self, like):
        if like.device.type == "cuda":
            return self.torch.cuda.current_stream(like.device).cuda_stream
        return 0

    def device(self, like):
        if like.device.type == "cuda":
            return self.torch.cuda.device(like.device)
        return contextlib.nullcontext()

    def astype(self, x, dtype):
        return x.to(self._dtype(dtype))

    def concat(self, xs, axis):
        return self.torch.cat(xs, dim=axis)


class CupyAdapter(Adapter):
    name = "cupy"
    has_bf16 = False
    no_bf16_reason = "CuPy has no bfloat16 output"

    def __init__(self, cupy):
        self.cupy = cupy

    def empty(self, like, shape, dtype):
        with like.device:
            return self.cupy.empty(shape, dtype=dtype)

    def stream(self, like):
        with like.device:
            return self.cupy.cuda.get_current_stream().ptr

    def device(self, like):
        return like.device

    def concat(self, xs, axis):
        return self.cupy.concatenate(xs, axis=axis)


class JaxAdapter(Adapter):
    """JAX arrays on the CPU: inputs are read in place; outputs are computed
    into NumPy buffers and handed back as JAX arrays."""

    name = "jax"
    has_bf16 = False
    no_bf16_reason = ("intfa computes JAX results in NumPy buffers, which have no bfloat16 "
                      "(bfloat16 JAX inputs are fine)")

    def __init__(self, jax):
        self.jax = jax

    def check_device(self, x):
        platforms = {d.platform for d in x.devices()}
        if platforms != {"cpu"}:
            raise _core.UnsupportedError(
                f"JAX arrays on {sorted(platforms)} are not supported (JAX arrays are immutable, "
                "so intfa cannot write its output on the device); use JAX CPU arrays, or "
                "torch/CuPy arrays on CUDA")

    def empty(self, like, shape, dtype):
        return np.empty(shape, dtype=np.dtype(dtype))

    def finish(self, x):
        return self.jax.numpy.asarray(x)

    def concat(self, xs, axis):
        return self.jax.numpy.concatenate(xs, axis=axis)


_NUMPY = NumpyAdapter()
_cache: dict = {}


def adapter_for(x, name: str = "q") -> Adapter:
    """The adapter of `x`'s framework; TypeError for anything else."""
    if isinstance(x, np.ndarray):
        return _NUMPY
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        if "torch" not in _cache:
            _cache["torch"] = TorchAdapter(torch)
        return _cache["torch"]
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        if "cupy" not in _cache:
            _cache["cupy"] = CupyAdapter(cupy)
        return _cache["cupy"]
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.Array):
        if "jax" not in _cache:
            _cache["jax"] = JaxAdapter(jax)
        adapter = _cache["jax"]
        adapter.check_device(x)
        return adapter
    raise TypeError(
        f"{name} must be a NumPy array, torch.Tensor, CuPy array or JAX (CPU) array, "
        f"got {type(x).__module__}.{type(x).__qualname__}")


def same_framework(arrays) -> Adapter:
    """The common adapter of (name, array) pairs; TypeError when they differ."""
    first_name, first = arrays[0]
    adapter = adapter_for(first, first_name)
    for name, x in arrays[1:]:
        other = adapter_for(x, name)
        if other is not adapter:
            raise TypeError(
                f"{name} is a {other.name} array but {first_name} is a {adapter.name} array: "
                "pass all inputs from one framework")
    return adapter


def dtype_name(dtype) -> str:
    """'float32' / 'float16' / 'bfloat16' from a NumPy, torch or string dtype."""
    if isinstance(dtype, str):
        name = dtype
    elif type(dtype).__module__.startswith("torch"):
        name = str(dtype).rsplit(".", 1)[-1]  # torch.float16 -> float16
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    aliases = {"float": "float32", "half": "float16", "f32": "float32", "f16": "float16",
               "bf16": "bfloat16", "fp32": "float32", "fp16": "float16"}
    name = aliases.get(name, name)
    if name not in FLOAT_DTYPES:
        raise _core.InvalidArgumentError(
            f"out_dtype must be float32, float16 or bfloat16 (got {dtype!r})")
    return name
