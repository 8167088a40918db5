"""Framework-agnostic implementations: allocate outputs with an adapter, then
call the C++ extension. The public functions (intfa/__init__.py) call these
directly for NumPy/CuPy/JAX and through the torch custom ops for PyTorch."""
from __future__ import annotations

from typing import Optional

from . import _core
from ._arrays import Adapter

LAYOUTS = ("bshd", "bhsd")
VT_ORDERS = ("natural", "interleaved16")


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise _core.InvalidArgumentError(
            f"unknown layout {layout!r} (expected 'bshd' for [batch, seq, heads, dim] or 'bhsd' "
            "for [batch, heads, seq, dim])")


def check_vt_order(vt_order, allow_none: bool = True) -> None:
    if vt_order is None and allow_none:
        return
    if vt_order not in VT_ORDERS:
        raise _core.InvalidArgumentError(
            f"unknown vt_order {vt_order!r} (expected 'natural' or 'interleaved16'"
            + (", or None for the back-end's default)" if allow_none else ")"))


def dims(x, name: str, layout: str):
    """(batch, seq, heads, dim) of a 4-D operand in `layout`."""
    shape = tuple(x.shape)
    if len(shape) != 4:
        what = "[batch, seq, heads, dim]" if layout == "bshd" else "[batch, heads, seq, dim]"
        raise _core.InvalidArgumentError(
            f"{name} must be 4-D {what} (layout '{layout}'), got {len(shape)}-D shape "
            f"{list(shape)}")
    if layout == "bshd":
        return shape[0], shape[1], shape[2], shape[3]
    return shape[0], shape[2], shape[1], shape[3]


def shape_of(layout: str, b, s, h, d):
    return (b, s, h, d) if layout == "bshd" else (b, h, s, d)


def resolve_out_dtype(ad: Adapter, q, out_dtype: Optional[str]) -> str:
    name = out_dtype or ad.dtype_name(q)
    if name == "bfloat16" and not ad.has_bf16:
        raise _core.InvalidArgumentError(
            f"{ad.no_bf16_reason}: pass out_dtype='float32' or 'float16'")
    return name


def attention(ad: Adapter, q, k, v, causal: bool, scale: Optional[float], recipe: str,
              layout: str, backend: str, out_dtype: Optional[str], return_lse: bool,
              kv_block: int = 0):
    check_layout(layout)
    b, sq, h, d = dims(q, "q", layout)
    dtype = resolve_out_dtype(ad, q, out_dtype)
    with ad.device(q):
        out = ad.empty(q, shape_of(layout, b, sq, h, d), dtype)
        lse = ad.empty(q, (b, h, sq), "float32") if return_lse else None
        _core.attention(q, k, v, out, lse, layout, bool(causal), scale, recipe, backend,
                        kv_block, ad.stream(q))
    return out, lse


def quantize(ad: Adapter, q, k, v, recipe: str, layout: str, backend: str,
             vt_order: Optional[str] = None):
    """Returns ((q8, q_scale, k8, k_scale, k_mean, lse_offset, vt, v_scale),
    vt_order): absent parts (no K smoothing, 16-bit V) are None; vt_order is
    the order V̂ᵀ was written in ("natural" when there is no int8 V)."""
    check_layout(layout)
    check_vt_order(vt_order)
    info = _core.recipe_info(recipe)
    if not info["int8_qk"]:
        raise _core.InvalidArgumentError(
            f"quantize makes int8 Q and K; recipe {info['name']} is a float baseline "
            "(use attention())")
    b, sq, h, d = dims(q, "q", layout)
    bk, sk, hk, dk = dims(k, "k", layout)
    stream = ad.stream(q)
    with ad.device(q):
        q8 = ad.empty(q, shape_of(layout, b, sq, h, d), "int8")
        q_scale = ad.empty(q, (b, h, sq), "float32")
        k8 = ad.empty(q, shape_of(layout, bk, sk, hk, dk), "int8")
        k_scale = ad.empty(q, (bk, hk, sk), "float32")
        k_mean = lse_offset = vt = v_scale = None
        written = "natural"
        if info["smooth_k"]:
            k_mean = ad.empty(q, (bk, hk, dk), "float32")
            lse_offset = ad.empty(q, (b, h, sq), "float32")
            _core.channel_mean(k, k_mean, layout, backend, stream)
        _core.quantize_per_token(k, k_mean, k8, k_scale, layout, backend, stream)
        _core.quantize_q(q, q8, q_scale, k_mean, hk, lse_offset, layout, backend, stream)
        if info["int8_v"]:
            bv, sv, hv, dv = dims(v, "v", layout)
            vt = ad.empty(q, (bv, hv, dv, _core.padded_kv_length(sv)), "int8")
            v_scale = ad.empty(q, (bv, hv, dv), "float32")
            written = _core.quantize_v(v, recipe, vt, v_scale, layout, backend, stream, vt_order)
    return (q8, q_scale, k8, k_scale, k_mean, lse_offset, vt, v_scale), written


def attention_quantized(ad: Adapter, recipe: str, layout: str, q8, q_scale, k8, k_scale,
                        lse_offset, vt, v_scale, v16, causal: bool, scale: Optional[float],
                        backend: str, out_dtype: str, return_lse: bool, kv_block: int = 0,
                        vt_order: str = "natural"):
    check_layout(layout)
    check_vt_order(vt_order, allow_none=False)
    b, sq, h, d = dims(q8, "q_int8", layout)
    dtype = resolve_out_dtype(ad, q8, out_dtype)
    with ad.device(q8):
        out = ad.empty(q8, shape_of(layout, b, sq, h, d), dtype)
        lse = ad.empty(q8, (b, h, sq), "float32") if return_lse else None
        _core.attention_quantized(recipe, q8, q_scale, lse_offset, k8, k_scale, vt, v_scale,
                                  v16, out, lse, layout, bool(causal), scale, backend, kv_block,
                                  ad.stream(q8), vt_order)
    return out, lse
