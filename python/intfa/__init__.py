"""intfa — INT-FlashAttention for Python.

INT8 per-token Q/K, INT8 V and 8-bit P inside a FlashAttention forward pass,
on NumPy arrays (CPU back-end) and PyTorch tensors (CPU and CUDA), plus CuPy
arrays and JAX CPU arrays through DLPack. Inputs are read in place (no copies;
any strides with a contiguous head dimension); outputs are allocated in the
input's framework, on its device.

    import intfa
    out = intfa.attention(q, k, v, causal=True)               # [B, S, H, D]
    out = intfa.sdpa(query, key, value, is_causal=True)       # [B, H, S, D]
    qi = intfa.quantize(q, k, v); out = intfa.attention_quantized(qi)

Recipes (`recipe=`): "intfa" (default), "paper", "half-int8", "fp16",
"fp8-tensor", and knob variants such as "paper+p-u8" or "intfa-smooth-k".

Errors raise subclasses of intfa.Error that are also the matching built-in
exceptions: InvalidArgumentError (ValueError), UnsupportedError
(NotImplementedError), NonFiniteInputError (FloatingPointError and
ValueError), BackendUnavailableError, CudaError, InternalError (RuntimeError).

When PyTorch (>= 2.4) is importable the package registers the custom ops
torch.ops.intfa.{attention, quantize, attention_quantized} with fake
implementations (torch.compile / torch.export); set INTFA_DISABLE_TORCH=1 to
skip importing torch.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, NamedTuple, Optional

from . import _core, _impl
from ._arrays import adapter_for, dtype_name, same_framework
from ._core import (BackendUnavailableError, CudaError, Error, InternalError,
                    InvalidArgumentError, NonFiniteInputError, UnsupportedError)

__version__ = _core.version()
built_with_cuda: bool = _core.built_with_cuda

RECIPES = ("intfa", "paper", "half-int8", "fp16", "fp8-tensor")

VT_ORDERS = ("natural", "interleaved16")

__all__ = [
    "attention", "quantize", "attention_quantized", "sdpa", "attention_reference",
    "QuantizedInputs", "recipe_info", "cuda_available", "built_with_cuda", "RECIPES",
    "VT_ORDERS", "default_vt_order", "vt_position",
    "Error", "InvalidArgumentError", "UnsupportedError", "NonFiniteInputError",
    "BackendUnavailableError", "CudaError", "InternalError", "torch_ops_registered",
]

# ---- PyTorch custom ops --------------------------------------------------------
_torch: Any = None
torch_ops_registered = False
if os.environ.get("INTFA_DISABLE_TORCH", "") not in ("1", "true", "yes"):
    try:
        import torch as _torch_module
    except ImportError:
        _torch_module = None
    except Exception as e:  # a broken torch install must not break intfa on NumPy
        warnings.warn(f"intfa: importing torch failed ({e!r}); PyTorch ops are not registered")
        _torch_module = None
    if _torch_module is not None:
        if hasattr(getattr(_torch_module, "library", None), "custom_op"):
            from . import _torch_ops  # noqa: F401  (registers torch.ops.intfa.*)
            _torch = _torch_module
            torch_ops_registered = True
        else:
            warnings.warn(f"intfa: torch {_torch_module.__version__} has no "
                          "torch.library.custom_op (needs >= 2.4): torch tensors are handled "
                          "eagerly, without custom ops (no torch.compile support)")


# Canonical recipe names, cached in a plain dict (a lookup torch.compile can
# trace; a call into the extension it cannot). The base names are filled in
# now, other names on first use.
_RECIPE_NAMES = {r: _core.recipe_info(r)["name"] for r in RECIPES}


def _canonical_recipe(recipe: str) -> str:
    name = _RECIPE_NAMES.get(recipe)
    if name is None:
        name = _RECIPE_NAMES[recipe] = _core.recipe_info(recipe)["name"]
    return name


def cuda_available() -> bool:
    """True when this build has the CUDA back-end and a CUDA device is visible."""
    return _core.cuda_available()


def recipe_info(recipe: str) -> dict:
    """The formats of a recipe name: {'name', 'qk', 'smooth_k', 'v', 'p', ...}."""
    return _core.recipe_info(recipe)


def default_vt_order(backend: str) -> str:
    """The V̂ᵀ token order quantize() writes by default on `backend` ("cpu":
    "natural"; "cuda": the order read by the fastest kernel of the current CUDA
    device, "interleaved16" on Hopper with the wgmma kernels)."""
    return _core.default_vt_order(backend)


def vt_position(token: int, order: str) -> int:
    """Position of `token` on V̂ᵀ's padded token axis in `order`
    ("natural": token itself; "interleaved16": a permutation inside each group
    of 16 positions, see docs/NUMERICS.md)."""
    return _core.vt_position(token, order)


# Default orders of CUDA devices by index, filled on first use (under
# torch.compile the lookup is a constant; see _torch_vt_order).
_CUDA_VT_ORDERS: dict = {}


def _cuda_default_vt_order(index: int) -> str:
    order = _CUDA_VT_ORDERS.get(index)
    if order is None:
        with _torch.cuda.device(index):
            order = _CUDA_VT_ORDERS[index] = _core.default_vt_order("cuda")
    return order


def _torch_vt_order(q, vt_order: Optional[str]) -> str:
    """The order the torch quantize op is asked for: known before the op runs,
    so its QuantizedInputs carry it also when traced."""
    if vt_order is not None:
        _impl.check_vt_order(vt_order)
        return vt_order
    if q.device.type != "cuda":
        return "natural"
    index = q.device.index if q.device.index is not None else _torch.cuda.current_device()
    return _cuda_default_vt_order(index)


if _torch is not None:
    _assume_constant = getattr(getattr(_torch, "compiler", None), "assume_constant_result", None)
    if _assume_constant is not None:
        _cuda_default_vt_order = _assume_constant(_cuda_default_vt_order)


def _is_torch(x) -> bool:
    return _torch is not None and isinstance(x, _torch.Tensor)


def _opt_scale(scale) -> Optional[float]:
    return None if scale is None else float(scale)


def _out_dtype(out_dtype) -> str:
    return "" if out_dtype is None else dtype_name(out_dtype)


# ---- attention -----------------------------------------------------------------
def attention(q, k, v, causal: bool = False, scale: Optional[float] = None,
              recipe: str = "intfa", layout: str = "bshd", return_lse: bool = False,
              backend: str = "auto", out_dtype=None):
    """INT8 FlashAttention forward: softmax(scale · q kᵀ) v, with q, k, v
    quantized by `recipe` first.

    q: [B, Sq, H, D], k and v: [B, Sk, Hk, D] for layout "bshd" (FlashAttention
    convention), or [B, H, S, D] for "bhsd"; float32/float16/bfloat16 (NumPy:
    float32/float16); H a multiple of Hk (GQA/MQA); Sq != Sk allowed. Any
    strides with a contiguous last dimension. `causal` is bottom-right aligned
    (FlashAttention 2/3). `scale` defaults to 1/sqrt(D). `backend`: "auto"
    (CUDA for CUDA memory, else CPU), "cpu" or "cuda".

    Returns out (same framework, device and layout as q; dtype out_dtype or
    q's), or (out, lse) with lse [B, H, Sq] float32 (natural log) when
    return_lse. Rows whose keys are all masked give out = 0, lse = -inf.
    """
    od = _out_dtype(out_dtype)
    if _is_torch(q) and _is_torch(k) and _is_torch(v) and torch_ops_registered:
        out, lse = _torch.ops.intfa.attention(q, k, v, bool(causal), _opt_scale(scale),
                                              recipe, layout, backend, od, bool(return_lse))
        return (out, lse) if return_lse else out
    ad = same_framework([("q", q), ("k", k), ("v", v)])
    out, lse = _impl.attention(ad, q, k, v, causal, _opt_scale(scale), recipe, layout,
                               backend, od or None, return_lse)
    return (ad.finish(out), ad.finish(lse)) if return_lse else ad.finish(out)


# ---- quantization --------------------------------------------------------------
class QuantizedInputs(NamedTuple):
    """Quantized attention operands, as made by intfa.quantize().

    Dequantization: q ≈ q_int8 · q_scale; k ≈ k_int8 · k_scale + k_mean (K
    smoothing, recipes with smooth-k); v[..., s, d] ≈ vt[b, h, d, s] · v_scale[b, h, d].
    Scales are per token ([B, H, S]) for Q and K, per channel or per tensor
    ([B, Hk, D], all D entries equal) for V. Token s of vt sits at position
    vt_position(s, vt_order) of the last axis ("natural": s itself).
    """

    q_int8: Any                 # int8, shape of q (layout)
    q_scale: Any                # float32 [B, H, Sq]
    k_int8: Any                 # int8, shape of k (layout)
    k_scale: Any                # float32 [B, Hk, Sk]
    vt: Any = None              # int8 V̂ᵀ [B, Hk, D, Sk_pad] (int8-V recipes), zero padded
    v: Any = None               # 16-bit V (half-int8): the input if f16/bf16, else fp16 copy
    v_scale: Any = None         # float32 [B, Hk, D] (int8-V recipes)
    lse_offset: Any = None      # float32 [B, H, Sq] = q · mean(K) (smooth-k recipes)
    k_mean: Any = None          # float32 [B, Hk, D] (smooth-k recipes)
    recipe: str = "intfa"       # canonical recipe name
    layout: str = "bshd"        # layout of q_int8, k_int8 and v
    dtype: str = "float32"      # dtype of the original q: attention_quantized's default output
    vt_order: str = "natural"   # token order of vt: "natural" or "interleaved16"


def quantize(q, k, v, recipe: str = "intfa", layout: str = "bshd",
             backend: str = "auto", vt_order: Optional[str] = None) -> QuantizedInputs:
    """Quantizes q, k, v for `recipe` (an int8-Q/K recipe: intfa, paper,
    half-int8 and their knob variants), as attention() does internally.
    Returns QuantizedInputs in q's framework and device.

    vt_order: the token order of the int8 V̂ᵀ, "natural" or "interleaved16";
    None (default) takes the back-end's default_vt_order() ("natural" on the
    CPU, the fastest kernel's order on CUDA). attention_quantized() accepts
    either order on every back-end (reordering first when its kernel reads the
    other one); the returned QuantizedInputs.vt_order says which was written."""
    name = _canonical_recipe(recipe)
    if _is_torch(q) and _is_torch(k) and _is_torch(v) and torch_ops_registered:
        # (kept free of calls into the extension, but for the default order's
        # cached lookup: torch.compile traces this)
        order = _torch_vt_order(q, vt_order)
        parts = _torch.ops.intfa.quantize(q, k, v, recipe, layout, backend, order)
        q8, q_scale, k8, k_scale, k_mean, lse_offset, vt, v_scale = (
            p if p.numel() > 0 else None for p in parts)
        v16 = None
        if vt is None:  # half-int8: V stays in 16 bits (fp32 inputs are rounded to fp16)
            v16 = v if v.dtype in (_torch.float16, _torch.bfloat16) else v.to(_torch.float16)
            order = "natural"
        dtype = str(q.dtype).rsplit(".", 1)[-1]
    else:
        ad = same_framework([("q", q), ("k", k), ("v", v)])
        parts, order = _impl.quantize(ad, q, k, v, recipe, layout, backend, vt_order)
        q8, q_scale, k8, k_scale, k_mean, lse_offset, vt, v_scale = (
            None if p is None else ad.finish(p) for p in parts)
        v16 = None
        if vt is None:
            v16 = v if ad.dtype_name(v) in ("float16", "bfloat16") else ad.astype(v, "float16")
        dtype = ad.dtype_name(q)
    return QuantizedInputs(q_int8=q8, q_scale=q_scale, k_int8=k8, k_scale=k_scale, vt=vt,
                           v=v16, v_scale=v_scale, lse_offset=lse_offset, k_mean=k_mean,
                           recipe=name, layout=layout, dtype=dtype, vt_order=order)


def attention_quantized(qinputs: QuantizedInputs, causal: bool = False,
                        scale: Optional[float] = None, return_lse: bool = False,
                        backend: str = "auto", out_dtype=None):
    """Attention on the output of quantize(). On the CPU back-end the result
    equals attention() on the original inputs bit for bit. Returns out, or
    (out, lse) when return_lse (see attention())."""
    qi = qinputs
    if not isinstance(qi, QuantizedInputs):
        raise TypeError(f"attention_quantized takes the QuantizedInputs from intfa.quantize(), "
                        f"got {type(qi).__qualname__}")
    od = _out_dtype(out_dtype) or dtype_name(qi.dtype)
    if _is_torch(qi.q_int8) and torch_ops_registered:
        out, lse = _torch.ops.intfa.attention_quantized(
            qi.q_int8, qi.q_scale, qi.k_int8, qi.k_scale, qi.lse_offset, qi.vt, qi.v_scale,
            qi.v, qi.recipe, qi.layout, bool(causal), _opt_scale(scale), backend, od,
            bool(return_lse), qi.vt_order)
        return (out, lse) if return_lse else out
    ad = adapter_for(qi.q_int8, "q_int8")
    out, lse = _impl.attention_quantized(ad, qi.recipe, qi.layout, qi.q_int8, qi.q_scale,
                                         qi.k_int8, qi.k_scale, qi.lse_offset, qi.vt,
                                         qi.v_scale, qi.v, causal, _opt_scale(scale), backend,
                                         od, return_lse, 0, qi.vt_order)
    return (ad.finish(out), ad.finish(lse)) if return_lse else ad.finish(out)


# ---- torch.nn.functional.scaled_dot_product_attention drop-in -------------------
def sdpa(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
         scale: Optional[float] = None, enable_gqa: bool = False, *, recipe: str = "intfa",
         backend: str = "auto"):
    """Drop-in for torch.nn.functional.scaled_dot_product_attention on
    [B, H, S, D] (or [B, S, D]) inputs, computed by intfa.attention with
    `recipe`. Same semantics as torch: is_causal is top-left aligned when
    Sq != Sk; GQA (fewer key/value heads) needs enable_gqa=True. attn_mask and
    dropout are not supported (NotImplementedError)."""
    if attn_mask is not None:
        raise UnsupportedError("intfa.sdpa does not support attn_mask (only is_causal masking); "
                               "use torch.nn.functional.scaled_dot_product_attention for masks")
    if dropout_p != 0.0:
        raise UnsupportedError(f"intfa.sdpa is inference only: dropout_p must be 0.0 "
                               f"(got {dropout_p})")
    nd = len(query.shape)
    if nd not in (3, 4) or len(key.shape) != nd or len(value.shape) != nd:
        raise InvalidArgumentError(
            f"intfa.sdpa takes [B, H, S, D] (or [B, S, D]) query, key, value; got shapes "
            f"{list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
    if nd == 3:
        return sdpa(query[:, None], key[:, None], value[:, None], None, 0.0, is_causal, scale,
                    enable_gqa, recipe=recipe, backend=backend)[:, 0]
    if value.shape[-1] != query.shape[-1] or key.shape[-1] != query.shape[-1]:
        raise UnsupportedError(
            f"intfa.sdpa needs one head dim for query, key and value (got {query.shape[-1]}, "
            f"{key.shape[-1]}, {value.shape[-1]})")
    hq, hk = query.shape[1], key.shape[1]
    if hq != hk and not enable_gqa:
        raise InvalidArgumentError(
            f"query has {hq} heads but key/value have {hk}: pass enable_gqa=True for grouped-query "
            "attention (as torch.nn.functional.scaled_dot_product_attention requires)")

    def run(q, k, v, causal):
        return attention(q, k, v, causal=causal, scale=scale, recipe=recipe, layout="bhsd",
                         backend=backend)

    sq, sk = query.shape[2], key.shape[2]
    if not is_causal or sq == sk:
        return run(query, key, value, bool(is_causal))
    # torch's is_causal is top-left aligned (query i sees keys 0..i); intfa's is
    # bottom-right aligned. They agree on square problems, so:
    if sq < sk:  # top-left only ever reaches the first Sq keys
        return run(query, key[:, :, :sq], value[:, :, :sq], True)
    # sq > sk: the first Sk queries form a square causal problem; the later ones
    # see every key.
    ad = adapter_for(query, "query")
    head = run(query[:, :, :sk], key, value, True)
    tail = run(query[:, :, sk:], key, value, False)
    return ad.concat([head, tail], 2)


# ---- float64 reference -----------------------------------------------------------
def attention_reference(q, k, v, causal: bool = False, scale: Optional[float] = None,
                        layout: str = "bshd", return_lse: bool = False):
    """Exact attention in float64 on the CPU (the library's reference, used for
    error studies). Host arrays in; NumPy float64 arrays out, in `layout`."""
    import numpy as np

    _impl.check_layout(layout)
    b, sq, h, d = _impl.dims(q, "q", layout)
    out = np.empty((b, sq, h, d), dtype=np.float64)
    lse = np.empty((b, h, sq), dtype=np.float64) if return_lse else None
    _core.attention_reference(q, k, v, out, lse, layout, bool(causal), _opt_scale(scale))
    if layout == "bhsd":
        out = np.ascontiguousarray(out.transpose(0, 2, 1, 3))
    return (out, lse) if return_lse else out
