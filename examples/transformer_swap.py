#!/usr/bin/env python3
"""Swaps the attention of a small PyTorch transformer for intfa.sdpa and
reports how much the model's output moves.

The model is a seeded, randomly initialised decoder-only transformer (token
embedding, pre-norm blocks with grouped-query causal self-attention and a GELU
MLP, final norm, LM head). Every block calls its attention through one
attribute, `attn_fn`, which defaults to torch.nn.functional.
scaled_dot_product_attention; swap_attention() replaces it with
functools.partial(intfa.sdpa, recipe=...), which has the same signature.

For each recipe the script prints, against the unmodified model on the same
tokens: relative L1 and cosine similarity of the final hidden states, the
largest logit change, and how often the top-1 token agrees.

    python3 examples/transformer_swap.py                  # CUDA fp16 when available, else CPU fp32
    python3 examples/transformer_swap.py --layers 4 --seq 256 --recipes intfa paper
    python3 examples/transformer_swap.py --compile        # also through torch.compile
"""
import argparse
import functools
import math
import sys
import time

import torch
import torch.nn.functional as F

import intfa


class Block(torch.nn.Module):
    def __init__(self, dim, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.norm1 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, (heads + 2 * kv_heads) * self.head_dim, bias=False)
        self.out = torch.nn.Linear(dim, dim, bias=False)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 4 * dim), torch.nn.GELU(),
                                       torch.nn.Linear(4 * dim, dim))
        self.attn_fn = F.scaled_dot_product_attention

    def forward(self, x):
        b, s, _ = x.shape
        hd = self.head_dim
        q, k, v = self.qkv(self.norm1(x)).split(
            [self.heads * hd, self.kv_heads * hd, self.kv_heads * hd], dim=-1)
        q = q.view(b, s, self.heads, hd).transpose(1, 2)  # [B, H, S, D]
        k = k.view(b, s, self.kv_heads, hd).transpose(1, 2)
        v = v.view(b, s, self.kv_heads, hd).transpose(1, 2)
        a = self.attn_fn(q, k, v, is_causal=True, enable_gqa=self.heads != self.kv_heads)
        x = x + self.out(a.transpose(1, 2).reshape(b, s, -1))
        return x + self.mlp(self.norm2(x))


class TinyLM(torch.nn.Module):
    def __init__(self, vocab=4096, dim=512, layers=6, heads=8, kv_heads=2, max_seq=4096):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(torch.randn(max_seq, dim) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(dim, heads, kv_heads) for _ in range(layers))
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        for name, p in self.named_parameters():  # GPT-2 style init, scaled residual branches
            if p.dim() == 2 and name != "pos":
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("out.weight", "2.weight")) \
                    else 0.02
                torch.nn.init.normal_(p, std=std)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        h = self.norm(x)
        return h, self.head(h)


def swap_attention(model, attn_fn):
    """Points every block's attention at attn_fn (an SDPA-compatible callable)."""
    for block in model.blocks:
        block.attn_fn = attn_fn
    return model


def compare(ref, out):
    (h_ref, logits_ref), (h, logits) = ref, out
    h_ref, h, logits_ref, logits = (t.double() for t in (h_ref, h, logits_ref, logits))
    return {
        "hidden_rel_l1": ((h - h_ref).abs().sum() / h_ref.abs().sum()).item(),
        "hidden_cosine": F.cosine_similarity(h.flatten(), h_ref.flatten(), dim=0).item(),
        "logit_max_abs": (logits - logits_ref).abs().max().item(),
        "top1_agree": (logits.argmax(-1) == logits_ref.argmax(-1)).double().mean().item(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--recipes", nargs="+", default=None,
                   help="default: intfa paper half-int8 (+ fp16 fp8-tensor on the CPU)")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None)
    p.add_argument("--compile", action="store_true", help="also run the swapped model compiled")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    device = args.device or ("cuda" if torch.cuda.is_available() and intfa.cuda_available()
                             else "cpu")
    dtype = torch.float16 if device == "cuda" else torch.float32
    recipes = args.recipes or (["intfa", "paper", "half-int8"] if device == "cuda"
                               else list(intfa.RECIPES))
    torch.manual_seed(args.seed)
    model = TinyLM(dim=args.dim, layers=args.layers, heads=args.heads,
                   kv_heads=args.kv_heads).to(device=device, dtype=dtype).eval()
    tokens = torch.randint(0, 4096, (args.batch, args.seq), device=device)
    print(f"TinyLM: {args.layers} layers, dim {args.dim}, {args.heads} query / {args.kv_heads} "
          f"KV heads (head dim {args.dim // args.heads}), batch {args.batch} x {args.seq} tokens, "
          f"{device} {str(dtype).replace('torch.', '')}, seed {args.seed}")

    with torch.no_grad():
        swap_attention(model, F.scaled_dot_product_attention)
        ref = model(tokens)
        print(f"{'attention':<24} {'hidden rel-L1':>13} {'cosine':>10} {'max |dlogit|':>12} "
              f"{'top-1 agree':>11} {'time':>9}")
        for recipe in recipes:
            swap_attention(model, functools.partial(intfa.sdpa, recipe=recipe))
            runs = [("intfa.sdpa " + recipe, model)]
            if args.compile:
                runs.append(("  compiled", torch.compile(model, fullgraph=True)))
            for name, m in runs:
                try:
                    out = m(tokens)  # first call (compiles when compiled)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    out = m(tokens)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    dt = time.perf_counter() - t0
                except intfa.Error as e:
                    print(f"{name:<24} not run: {type(e).__name__}: {e}")
                    continue
                r = compare(ref, out)
                print(f"{name:<24} {r['hidden_rel_l1']:13.5f} {r['hidden_cosine']:10.6f} "
                      f"{r['logit_max_abs']:12.4f} {100 * r['top1_agree']:10.2f}% "
                      f"{dt * 1e3:7.1f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
