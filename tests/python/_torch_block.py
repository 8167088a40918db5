"""A small transformer block for the torch.compile tests (test_torch.py on
the CPU, test_cuda.py on CUDA). Imports torch: only import it from tests that
have already skipped when torch is missing."""
import torch

import intfa


class Block(torch.nn.Module):
    """A pre-norm transformer block whose attention is pluggable: `attn` is
    torch's scaled_dot_product_attention or intfa.sdpa."""

    def __init__(self, dim=128, heads=4, kv_heads=2, attn=None):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.norm1 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, (heads + 2 * kv_heads) * self.head_dim)
        self.proj = torch.nn.Linear(dim, dim)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 4 * dim), torch.nn.GELU(),
                                       torch.nn.Linear(4 * dim, dim))
        self.attn = attn or torch.nn.functional.scaled_dot_product_attention

    def forward(self, x):
        b, s, _ = x.shape
        hd = self.head_dim
        q, k, v = self.qkv(self.norm1(x)).split(
            [self.heads * hd, self.kv_heads * hd, self.kv_heads * hd], dim=-1)
        q = q.view(b, s, self.heads, hd).transpose(1, 2)
        k = k.view(b, s, self.kv_heads, hd).transpose(1, 2)
        v = v.view(b, s, self.kv_heads, hd).transpose(1, 2)
        a = self.attn(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, s, -1))
        return x + self.mlp(self.norm2(x))


def compile_backend(device):
    # Inductor on CUDA (the real use); on the CPU aot_eager traces the same
    # graph through the fake implementations without C++ code generation,
    # which keeps this test fast.
    return "inductor" if device == "cuda" else "aot_eager"


def run_compiled_block(device, dtype, dim=128):
    torch.manual_seed(0)
    block = Block(dim, attn=intfa.sdpa).to(device=device, dtype=dtype).eval()
    ref_block = Block(dim).to(device=device, dtype=dtype).eval()
    ref_block.load_state_dict(block.state_dict())
    x = torch.randn(2, 96, dim, device=device, dtype=dtype)
    torch._dynamo.reset()
    compiled = torch.compile(block, backend=compile_backend(device), fullgraph=True,
                             dynamic=False)
    with torch.no_grad():
        eager = block(x)
        out = compiled(x)
        out2 = compiled(x + 1)  # second call reuses the graph
        ref = ref_block(x)
    assert out.shape == x.shape and out2.shape == x.shape
    return eager, out, ref
