"""PyTorch custom ops (torch.library.custom_op) with fake implementations, so
intfa works under torch.compile, torch.export and FakeTensor tracing.

    torch.ops.intfa.attention
    torch.ops.intfa.quantize
    torch.ops.intfa.attention_quantized

The real implementations allocate outputs with torch, set the tensor's CUDA
device, and pass torch.cuda.current_stream().cuda_stream to the library.
Forward only: there is no autograd formula (backward raises).

This module deliberately does not use `from __future__ import annotations`:
custom_op infers the schema from the annotations.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from . import _core, _impl
from ._arrays import TorchAdapter

_T = TorchAdapter(torch)

# Absent outputs (no LSE requested, no K smoothing, 16-bit V) are returned as
# empty float32 tensors: custom ops have a fixed list of tensor outputs.


def _none_tensor(like: Tensor) -> Tensor:
    return like.new_empty((0,), dtype=torch.float32)


def _or_none(t: Optional[Tensor]) -> Optional[Tensor]:
    return t if (t is not None and t.numel() > 0) else None


def _dtype(name: str, default: torch.dtype) -> torch.dtype:
    return getattr(torch, name) if name else default


@torch.library.custom_op("intfa::attention", mutates_args=())
def attention_op(q: Tensor, k: Tensor, v: Tensor, causal: bool, scale: Optional[float],
                 recipe: str, layout: str, backend: str, out_dtype: str,
                 return_lse: bool) -> Tuple[Tensor, Tensor]:
    out, lse = _impl.attention(_T, q, k, v, causal, scale, recipe, layout, backend,
                               out_dtype or None, return_lse)
    return out, (lse if lse is not None else _none_tensor(q))


@attention_op.register_fake
def _attention_fake(q, k, v, causal, scale, recipe, layout, backend, out_dtype, return_lse):
    b, sq, h, d = _impl.dims(q, "q", layout)
    out = q.new_empty(_impl.shape_of(layout, b, sq, h, d), dtype=_dtype(out_dtype, q.dtype))
    lse = q.new_empty((b, h, sq), dtype=torch.float32) if return_lse else _none_tensor(q)
    return out, lse


# vt_order: "natural" or "interleaved16", resolved by the caller (intfa.quantize)
# so that the order of the returned V̂ᵀ is known while tracing.
@torch.library.custom_op("intfa::quantize", mutates_args=())
def quantize_op(q: Tensor, k: Tensor, v: Tensor, recipe: str, layout: str, backend: str,
                vt_order: str) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
                                        Tensor]:
    parts, _ = _impl.quantize(_T, q, k, v, recipe, layout, backend, vt_order)
    return tuple(p if p is not None else _none_tensor(q) for p in parts)


@quantize_op.register_fake
def _quantize_fake(q, k, v, recipe, layout, backend, vt_order):
    info = _core.recipe_info(recipe)
    b, sq, h, d = _impl.dims(q, "q", layout)
    bk, sk, hk, dk = _impl.dims(k, "k", layout)
    f32 = torch.float32
    q8 = q.new_empty(_impl.shape_of(layout, b, sq, h, d), dtype=torch.int8)
    q_scale = q.new_empty((b, h, sq), dtype=f32)
    k8 = q.new_empty(_impl.shape_of(layout, bk, sk, hk, dk), dtype=torch.int8)
    k_scale = q.new_empty((bk, hk, sk), dtype=f32)
    if info["smooth_k"]:
        k_mean = q.new_empty((bk, hk, dk), dtype=f32)
        lse_offset = q.new_empty((b, h, sq), dtype=f32)
    else:
        k_mean, lse_offset = _none_tensor(q), _none_tensor(q)
    if info["int8_v"]:
        sk_pad = (sk + 127) // 128 * 128  # intfa::padded_kv_length
        vt = q.new_empty((bk, hk, dk, sk_pad), dtype=torch.int8)
        v_scale = q.new_empty((bk, hk, dk), dtype=f32)
    else:
        vt, v_scale = _none_tensor(q), _none_tensor(q)
    return q8, q_scale, k8, k_scale, k_mean, lse_offset, vt, v_scale


@torch.library.custom_op("intfa::attention_quantized", mutates_args=())
def attention_quantized_op(q8: Tensor, q_scale: Tensor, k8: Tensor, k_scale: Tensor,
                           lse_offset: Optional[Tensor], vt: Optional[Tensor],
                           v_scale: Optional[Tensor], v: Optional[Tensor], recipe: str,
                           layout: str, causal: bool, scale: Optional[float], backend: str,
                           out_dtype: str, return_lse: bool,
                           vt_order: str) -> Tuple[Tensor, Tensor]:
    out, lse = _impl.attention_quantized(
        _T, recipe, layout, q8, q_scale, k8, k_scale, _or_none(lse_offset), _or_none(vt),
        _or_none(v_scale), v, causal, scale, backend, out_dtype, return_lse, 0, vt_order)
    return out, (lse if lse is not None else _none_tensor(q8))


@attention_quantized_op.register_fake
def _attention_quantized_fake(q8, q_scale, k8, k_scale, lse_offset, vt, v_scale, v, recipe,
                              layout, causal, scale, backend, out_dtype, return_lse, vt_order):
    b, sq, h, d = _impl.dims(q8, "q_int8", layout)
    out = q8.new_empty(_impl.shape_of(layout, b, sq, h, d), dtype=_dtype(out_dtype, torch.float32))
    lse = q8.new_empty((b, h, sq), dtype=torch.float32) if return_lse else _none_tensor(q8)
    return out, lse
