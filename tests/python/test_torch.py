"""PyTorch integration on the CPU: torch tensors in and out, the custom ops
(torch.library.opcheck), and a torch.compile'd transformer block using
intfa.sdpa. Skipped when torch is not importable (CI installs NumPy only);
CUDA is covered by test_cuda.py."""
import numpy as np
import pytest

import intfa
from _helpers import check_accuracy, make_qkv, sdpa_problem

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
if not intfa.torch_ops_registered:
    pytest.skip("intfa did not register its torch ops (torch < 2.4 or INTFA_DISABLE_TORCH)",
                allow_module_level=True)

from torch.library import opcheck  # noqa: E402

from _torch_block import run_compiled_block  # noqa: E402


def tensors(*arrays, dtype=None, device="cpu"):
    out = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in arrays]
    return [t.to(dtype) if dtype is not None else t for t in out]


def as_np(t):
    return t.detach().float().cpu().numpy()


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
def test_attention_torch_cpu(dtype, layout, rng):
    q, k, v = make_qkv(2, 40, 70, 4, 2, 64, seed=rng, layout=layout)
    tq, tk, tv = tensors(q, k, v, dtype=getattr(torch, dtype))
    out, lse = intfa.attention(tq, tk, tv, causal=True, layout=layout, return_lse=True)
    assert isinstance(out, torch.Tensor) and out.dtype == tq.dtype and out.shape == tq.shape
    assert lse.dtype == torch.float32 and lse.shape == (2, 4, 40)
    # model and reference on the values the library actually saw (rounded to dtype)
    check_accuracy(as_np(out), lse.numpy(), as_np(tq), as_np(tk), as_np(tv), "intfa",
                   f"torch {dtype} {layout}", causal=True, layout=layout, out_dtype=dtype)


def test_torch_matches_numpy_bit_for_bit():
    q, k, v = make_qkv(1, 33, 65, 4, 1, 32, seed=22)
    expected = intfa.attention(q, k, v, causal=True, recipe="paper")
    out = intfa.attention(*tensors(q, k, v), causal=True, recipe="paper")
    np.testing.assert_array_equal(out.numpy(), expected)


def test_non_contiguous_and_requires_grad():
    qkv = torch.randn(2, 50, 3, 4, 32, requires_grad=True)
    q, k, v = qkv.unbind(2)  # strided views of a packed tensor
    out = intfa.attention(q, k, v)
    ref = intfa.attention(*(x.detach().contiguous() for x in (q, k, v)))
    assert torch.equal(out, ref)
    with pytest.raises(ValueError, match="head dimension must be contiguous"):
        intfa.attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))


def test_quantize_and_attention_quantized_torch():
    q, k, v = tensors(*make_qkv(1, 40, 90, 4, 2, 64, seed=23), dtype=torch.bfloat16)
    for recipe in ("intfa", "paper", "half-int8"):
        qi = intfa.quantize(q, k, v, recipe=recipe)
        assert qi.q_int8.dtype == torch.int8 and qi.dtype == "bfloat16"
        out = intfa.attention_quantized(qi, causal=True)
        assert torch.equal(out, intfa.attention(q, k, v, causal=True, recipe=recipe))


def test_sdpa_matches_torch_sdpa_cpu(rng):
    """intfa.sdpa against torch's SDPA in float64 (exact): within the
    intfa recipe's predicted error, with torch's masking (top-left)."""
    f = torch.nn.functional.scaled_dot_product_attention
    torch.manual_seed(int(rng.integers(2**62)))
    for sq, sk, gqa in [(64, 64, False), (30, 80, True), (80, 30, False)]:
        q = torch.randn(2, 4, sq, 64)
        k = torch.randn(2, 2 if gqa else 4, sk, 64)
        v = torch.randn_like(k)
        for causal in (False, True):
            out = intfa.sdpa(q, k, v, is_causal=causal, enable_gqa=gqa)
            ref = f(q.double(), k.double(), v.double(), is_causal=causal, enable_gqa=gqa)
            # the model of what intfa.sdpa computes; torch's float64 result
            # is exact (its own error is 0 next to intfa's)
            k_, v_, c, top_left = sdpa_problem(k.numpy(), v.numpy(), causal, sq)
            check_accuracy(out.numpy(), None, q.numpy(), k_, v_, "intfa",
                           f"sdpa {sq}x{sk} causal={causal}", causal=c, top_left=top_left,
                           layout="bhsd", ref_out=ref.numpy())


def test_mixed_frameworks_rejected():
    q, k, v = make_qkv(1, 8, 8, 2, 2, 32)
    with pytest.raises(TypeError, match="k is a torch array but q is a numpy array"):
        intfa.attention(q, torch.from_numpy(k), v)


def test_opcheck_custom_ops():
    q, k, v = tensors(*make_qkv(1, 24, 40, 4, 2, 32, seed=24))
    opcheck(torch.ops.intfa.attention.default,
            (q, k, v, True, None, "intfa", "bshd", "auto", "", True))
    opcheck(torch.ops.intfa.attention.default,
            (q, k, v, False, 0.2, "paper", "bshd", "cpu", "float16", False))
    opcheck(torch.ops.intfa.quantize.default, (q, k, v, "intfa", "bshd", "auto", "natural"))
    opcheck(torch.ops.intfa.quantize.default,
            (q, k, v, "paper", "bshd", "auto", "interleaved16"))
    opcheck(torch.ops.intfa.quantize.default, (q, k, v, "half-int8", "bshd", "auto", "natural"))
    for order in intfa.VT_ORDERS:
        qi = intfa.quantize(q, k, v, vt_order=order)
        assert qi.vt_order == order
        opcheck(torch.ops.intfa.attention_quantized.default,
                (qi.q_int8, qi.q_scale, qi.k_int8, qi.k_scale, qi.lse_offset, qi.vt, qi.v_scale,
                 None, "intfa", "bshd", True, None, "auto", "float32", True, order))
    hi = intfa.quantize(q.half(), k.half(), v.half(), recipe="half-int8")
    opcheck(torch.ops.intfa.attention_quantized.default,
            (hi.q_int8, hi.q_scale, hi.k_int8, hi.k_scale, None, None, None, hi.v,
             "half-int8", "bshd", False, None, "auto", "float16", False, "natural"))


def test_vt_order_torch_cpu():
    """The vt_order argument through the custom ops: the same bytes as NumPy,
    the order recorded, the same attention bits for both orders."""
    arrays = make_qkv(1, 30, 90, 4, 2, 32, seed=25)
    q, k, v = tensors(*arrays)
    ref = intfa.attention(q, k, v, causal=True)
    for order in intfa.VT_ORDERS:
        qi = intfa.quantize(q, k, v, vt_order=order)
        qn = intfa.quantize(*arrays, vt_order=order)
        assert qi.vt_order == qn.vt_order == order
        np.testing.assert_array_equal(qi.vt.numpy(), qn.vt)
        assert torch.equal(intfa.attention_quantized(qi, causal=True), ref)
    assert intfa.quantize(q, k, v).vt_order == "natural"  # the CPU's default
    with pytest.raises(intfa.InvalidArgumentError, match="unknown vt_order"):
        intfa.quantize(q, k, v, vt_order="nope")


def test_torch_compile_transformer_block_cpu():
    eager, compiled, ref = run_compiled_block("cpu", torch.float32)
    # the custom op is opaque: the compiled block computes the same attention
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)
    # and the block with INT8 attention stays close to the fp32 block (the
    # residual stream dilutes the attention error)
    rel = ((compiled - ref).abs().sum() / ref.abs().sum()).item()
    assert rel < 0.02, rel


def test_torch_compile_all_ops_dynamic_shapes():
    """quantize, attention_quantized, attention (with out_dtype and LSE) and
    sdpa trace into one graph (fullgraph) with dynamic sequence lengths."""
    def fn(q, k, v):
        qi = intfa.quantize(q, k, v, layout="bhsd")
        a, lse = intfa.attention_quantized(qi, causal=True, return_lse=True)
        qj = intfa.quantize(q, k, v, layout="bhsd", vt_order="interleaved16")
        a2 = intfa.attention_quantized(qj, causal=True)
        b = intfa.attention(q, k, v, causal=True, layout="bhsd", out_dtype=torch.float32)
        h = intfa.quantize(q, k, v, recipe="half-int8", layout="bhsd")
        c = intfa.attention_quantized(h)
        d = intfa.sdpa(q, k, v, is_causal=True)
        return a, lse, b, c, d, a2

    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="aot_eager", dynamic=True, fullgraph=True)
    for s in (64, 100, 130):
        q = torch.randn(1, 4, s, 64)
        k = torch.randn(1, 4, s + 7, 64)
        v = torch.randn(1, 4, s + 7, 64)
        for x, y in zip(compiled(q, k, v), fn(q, k, v)):
            assert torch.equal(x, y)
