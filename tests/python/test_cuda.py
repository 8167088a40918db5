"""The CUDA back-end through PyTorch CUDA tensors: accuracy against the
float64 reference within the rounding-noise model's prediction (computed on
the CPU from the same inputs, with the CUDA kernel's key block: the GPU
kernels follow docs/NUMERICS.md), intfa.sdpa against torch SDPA, the current
stream, the custom ops and a torch.compile'd (Inductor) transformer block.
Skipped, with the reason, without torch or a visible GPU."""
import numpy as np
import pytest

import intfa
from _helpers import check_accuracy, make_qkv, prediction_sigma, sdpa_problem

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device visible to torch", allow_module_level=True)
if not intfa.built_with_cuda:
    # test_cuda_build.py checks that CUDA tensors then give a clear error.
    pytest.skip("this intfa was built without CUDA (pip install . with a CUDA toolkit and "
                "-C cmake.define.INTFA_ENABLE_CUDA=ON to test the CUDA back-end)",
                allow_module_level=True)
if not intfa.cuda_available():
    pytest.skip("intfa's CUDA back-end sees no device", allow_module_level=True)

from torch.library import opcheck  # noqa: E402

from _torch_block import run_compiled_block  # noqa: E402

DEV = "cuda"


def cuda_tensors(*arrays, dtype=torch.float16):
    return [torch.from_numpy(np.ascontiguousarray(a)).to(DEV, dtype) for a in arrays]


def as_np(t):
    return t.detach().double().cpu().numpy()


def cuda_formats(recipe, v_dtype):
    """The formats the CUDA kernels use for `recipe`: as recipe_info, except
    that half-int8 keeps V in its own 16-bit type (no rounding) and rounds P
    to V's type for the tensor-core product (bf16 P with bf16 V; see the
    bf16 path of src/cuda/sm80/attention_kernel.cuh)."""
    f = dict(intfa.recipe_info(recipe))
    if f["v"] == "fp16":
        f["v"] = "none"
        f["p"] = "bf16" if v_dtype == torch.bfloat16 else "fp16"
    return f


SHAPES = {  # (B, Sq, Sk, H, Hk, D)
    "square-d64": (2, 256, 256, 4, 4, 64),
    "gqa-d128": (1, 200, 200, 8, 2, 128),
    "sq<sk": (1, 100, 333, 4, 4, 64),
    "sq>sk": (1, 333, 100, 4, 1, 128),
    "decode": (16, 1, 517, 8, 2, 128),  # >= 10^4 output elements, as every shape here
}


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("recipe", ["intfa", "paper", "half-int8"])
def test_attention_cuda_matches_reference(recipe, dtype, shape, causal, rng):
    b, sq, sk, h, hk, d = SHAPES[shape]
    q, k, v = cuda_tensors(*make_qkv(b, sq, sk, h, hk, d, seed=rng), dtype=getattr(torch, dtype))
    out, lse = intfa.attention(q, k, v, causal=causal, recipe=recipe, return_lse=True)
    assert out.is_cuda and out.dtype == q.dtype and out.shape == q.shape
    assert lse.is_cuda and lse.shape == (b, h, sq)
    # model and reference on the values the library saw (rounded to dtype)
    check_accuracy(as_np(out), lse.cpu().numpy(), as_np(q), as_np(k), as_np(v), recipe,
                   f"cuda {dtype} {shape} causal={causal}", causal=causal, backend="cuda",
                   out_dtype=dtype, formats=cuda_formats(recipe, q.dtype))


@pytest.mark.parametrize("layout", ["bshd", "bhsd"])
def test_layouts_and_fp32_output_cuda(layout, rng):
    q, k, v = cuda_tensors(*make_qkv(2, 128, 160, 4, 2, 64, seed=rng, layout=layout))
    out, lse = intfa.attention(q, k, v, causal=True, layout=layout, out_dtype=torch.float32,
                               return_lse=True)
    assert out.dtype == torch.float32 and out.shape == q.shape
    check_accuracy(as_np(out), lse.cpu().numpy(), as_np(q), as_np(k), as_np(v), "intfa",
                   f"cuda {layout}", causal=True, layout=layout, backend="cuda")


def test_strided_views_cuda():
    qkv = torch.randn(2, 192, 3, 4, 64, device=DEV, dtype=torch.float16)
    q, k, v = qkv.unbind(2)
    out = intfa.attention(q, k, v, causal=True)
    assert torch.equal(out, intfa.attention(q.contiguous(), k.contiguous(), v.contiguous(),
                                            causal=True))
    with pytest.raises(ValueError, match="head dimension must be contiguous"):
        intfa.attention(q.transpose(-1, -2), k, v)


@pytest.mark.parametrize("recipe", ["intfa", "paper", "half-int8"])
def test_attention_quantized_equals_attention_cuda(recipe):
    q, k, v = cuda_tensors(*make_qkv(1, 150, 300, 4, 2, 128, seed=33))
    out, lse = intfa.attention(q, k, v, causal=True, recipe=recipe, return_lse=True)
    qi = intfa.quantize(q, k, v, recipe=recipe)
    assert qi.q_int8.is_cuda and qi.q_int8.dtype == torch.int8
    out2, lse2 = intfa.attention_quantized(qi, causal=True, return_lse=True)
    assert torch.equal(out2, out) and torch.equal(lse2, lse)


@pytest.mark.parametrize("vt_order", ["natural", "interleaved16"])
def test_quantize_cuda_matches_cpu(vt_order):
    """Quantization is integer-exact across back-ends (docs/NUMERICS.md), in
    either V̂ᵀ order."""
    arrays = make_qkv(2, 100, 130, 4, 2, 64, seed=34)
    qc = intfa.quantize(*cuda_tensors(*arrays, dtype=torch.float32), vt_order=vt_order)
    qh = intfa.quantize(*arrays, vt_order=vt_order)
    assert qc.vt_order == qh.vt_order == vt_order
    for name in ("q_int8", "k_int8", "vt"):
        np.testing.assert_array_equal(getattr(qc, name).cpu().numpy(), getattr(qh, name))
    for name in ("q_scale", "k_scale", "v_scale", "k_mean", "lse_offset"):
        np.testing.assert_allclose(getattr(qc, name).cpu().numpy(), getattr(qh, name),
                                   rtol=1e-6, atol=1e-6)


def test_vt_order_cuda():
    """The default order is the device's (intfa.default_vt_order('cuda')).
    Quantized in the default order, attention_quantized gives attention() bit
    for bit. The other order runs the other kernel (on Hopper: natural runs the
    mma.sync kernel, interleaved16 the wgmma one), whose float operations come
    in another order: its result is checked against the noise model instead.
    Both orders' bytes moved to the CPU give the same result (attention_quantized
    reorders what its kernel does not read)."""
    arrays = make_qkv(1, 90, 200, 4, 2, 128, seed=35)
    q, k, v = cuda_tensors(*arrays)
    default = intfa.default_vt_order("cuda")
    assert default in intfa.VT_ORDERS
    assert intfa.quantize(q, k, v).vt_order == default
    out = intfa.attention(q, k, v, causal=True)
    on_host = []
    for order in intfa.VT_ORDERS:
        qi = intfa.quantize(q, k, v, vt_order=order)
        assert qi.vt_order == order
        got = intfa.attention_quantized(qi, causal=True)
        if order == default:
            assert torch.equal(got, out)
        else:
            check_accuracy(as_np(got), None, as_np(q), as_np(k), as_np(v), "intfa",
                           f"cuda vt_order={order}", causal=True, backend="cuda",
                           out_dtype="float16")
        host = qi._replace(**{f: getattr(qi, f).cpu()
                              for f in ("q_int8", "q_scale", "k_int8", "k_scale", "vt",
                                        "v_scale", "lse_offset", "k_mean")})
        on_host.append(intfa.attention_quantized(host, causal=True))
    assert torch.equal(on_host[0], on_host[1])


def test_float_baselines_are_cpu_only():
    q, k, v = cuda_tensors(*make_qkv(1, 64, 64, 2, 2, 64))
    with pytest.raises(NotImplementedError, match="CPU back-end only"):
        intfa.attention(q, k, v, recipe="fp16")


def test_current_stream_is_used():
    """Inputs produced on a side stream, behind a long chain of matmuls, and
    consumed there: intfa must queue its work on torch's current stream, or
    it would read Q before it is written."""
    q0, k0, v0 = cuda_tensors(*make_qkv(2, 512, 512, 8, 8, 128, seed=35))
    expected = intfa.attention(q0 * 2, k0, v0, causal=True)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        big = torch.randn(4096, 4096, device=DEV, dtype=torch.float16)
        for _ in range(20):
            big = (big @ big) * 1e-3
        q = q0 * 2 + big[:1, :1] * 0  # ready only after the matmuls
        out = intfa.attention(q, k0, v0, causal=True)
    side.synchronize()
    assert torch.equal(out, expected)


def test_device_mismatch():
    q, k, v = cuda_tensors(*make_qkv(1, 16, 16, 2, 2, 64))
    with pytest.raises(ValueError, match="k is on cpu but q is on cuda"):
        intfa.attention(q, k.cpu(), v)
    with pytest.raises(ValueError, match="CUDA device memory"):
        intfa.attention(q, k, v, backend="cpu")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_second_device(rng):
    q, k, v = (t.to("cuda:1") for t in cuda_tensors(*make_qkv(1, 128, 128, 2, 2, 64, seed=rng)))
    out = intfa.attention(q, k, v)
    assert out.device == q.device
    check_accuracy(as_np(out), None, as_np(q), as_np(k), as_np(v), "intfa", "cuda:1",
                   backend="cuda", out_dtype="float16")


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq,sk,hk", [(1024, 1024, 8), (256, 1024, 2), (1024, 256, 8)])
def test_sdpa_matches_torch_sdpa_fp16(sq, sk, hk, causal, rng):
    """intfa.sdpa on CUDA fp16 vs torch SDPA on the same tensors. Both err
    independently from the exact result: intfa by the intfa recipe's model
    (with its fp16 output's rounding), torch by the fp16 recipe's on inputs
    that are fp16 already (P rounded to fp16 for the tensor-core product, l
    from unrounded P, an fp16 output; key block 128). Torch's part is under 1%
    of the predicted variance, so which of its kernels runs does not matter."""
    torch.manual_seed(int(rng.integers(2**62)))
    q = torch.randn(2, 8, sq, 128, device=DEV, dtype=torch.float16)
    k = torch.randn(2, hk, sk, 128, device=DEV, dtype=torch.float16)
    v = torch.randn_like(k)
    f = torch.nn.functional.scaled_dot_product_attention
    gqa = hk != 8
    ref = f(q, k, v, is_causal=causal, enable_gqa=gqa)
    out = intfa.sdpa(q, k, v, is_causal=causal, enable_gqa=gqa)
    assert out.shape == ref.shape and out.dtype == torch.float16
    qn, kn, vn = as_np(q), as_np(k), as_np(v)
    # 64 query rows of each head, spread over the sequence (2·8·64·128 =
    # 131,072 elements), keep the model's CPU time small
    rows = np.arange(0, sq, max(1, sq // 64))
    torch_sigma = prediction_sigma(qn, kn, vn, "fp16", kv_block=128, causal=causal,
                                   top_left=causal, layout="bhsd", out_dtype="float16",
                                   query_rows=rows)
    k_, v_, c, top_left = sdpa_problem(kn, vn, causal, sq)
    check_accuracy(as_np(out), None, qn, k_, v_, "intfa", f"sdpa vs torch {sq}x{sk}",
                   causal=c, top_left=top_left, layout="bhsd", backend="cuda",
                   out_dtype="float16", ref_out=as_np(ref), extra_sigma=torch_sigma,
                   query_rows=rows)


def test_opcheck_custom_ops_cuda():
    q, k, v = cuda_tensors(*make_qkv(1, 64, 96, 4, 2, 64, seed=37))
    opcheck(torch.ops.intfa.attention.default,
            (q, k, v, True, None, "intfa", "bshd", "auto", "", True))
    for order in intfa.VT_ORDERS:
        opcheck(torch.ops.intfa.quantize.default, (q, k, v, "intfa", "bshd", "auto", order))
        qi = intfa.quantize(q, k, v, vt_order=order)
        opcheck(torch.ops.intfa.attention_quantized.default,
                (qi.q_int8, qi.q_scale, qi.k_int8, qi.k_scale, qi.lse_offset, qi.vt, qi.v_scale,
                 None, "intfa", "bshd", True, None, "auto", "float16", True, order))


def test_torch_compile_transformer_block_cuda():
    eager, compiled, ref = run_compiled_block("cuda", torch.float16, dim=256)  # head dim 64
    # Inductor fuses the layers around the (opaque) attention op differently
    # from eager fp16 PyTorch: compare within fp16 noise, and the INT8 block
    # with the torch-SDPA block within the attention's error.
    torch.testing.assert_close(compiled, eager, rtol=2e-2, atol=2e-2)
    rel = ((compiled.float() - ref.float()).abs().sum() / ref.float().abs().sum()).item()
    assert rel < 0.02, rel
