#!/usr/bin/env python3
"""Static instruction mix of the attention kernels' inner loop, from SASS.

No GPU needed: it reads `cuobjdump -sass` of a built object (or a text dump of
it), so instruction counts, register use and spills of a kernel change can be
checked on the development machine before any device time is spent.

For every kernel (or those whose mangled name contains --kernel), it finds the
loop that holds the most tensor-core instructions (IGMMA/HGMMA for wgmma,
IMMA/HMMA for mma.sync) and walks its *fall-through path*: from the loop's
head, every conditional branch falls through and every unconditional branch
inside the loop is followed, until the back edge. In these kernels that is the
path of an unmasked key block (the masked copies, the mbarrier retry loops and
the skip of blocks a consumer does not compute are all taken branches), with
one exception the report shows: a branch that skips a block of code when taken
(the O rescale, `if (any row's max moved)`) falls through into it, so its size
is printed as well. Counts are per warp and loop iteration (one key block).

  bench/sass_mix.py OBJECT_OR_DUMP... [--kernel SUBSTR] [--elements N]
                    [--json | --summary] [--listing]

--elements N: score elements per thread and iteration, to print counts per
element. By default it is read off the kernel's traits in its mangled name:
kv_block / 2 in both kernels (a 64-row wgmma consumer warpgroup or a 16-row
mma.sync warp over kv_block keys, per thread). --summary prints one line per
kernel: traits, registers, spills, the loop path's length and its moves. cuobjdump is found as $CUOBJDUMP, on PATH, under $CUDA_HOME/bin
or /usr/local/cuda/bin, or in the PyPI wheels nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm
(importable package `nvidia`; cuobjdump -sass runs nvdisasm): `pip install
nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm` provides them where the toolkit
lacks them (the test extras of pyproject.toml do).
"""
import argparse
import signal
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys

TENSOR_OPS = ("IGMMA", "HGMMA", "QGMMA", "IMMA", "HMMA")
# Categories for the summary: first matching prefix wins.
CATEGORIES = [
    ("tensor", TENSOR_OPS + ("WARPGROUP",)),
    ("int->float", ("I2FP", "I2F")),
    ("exp (MUFU)", ("MUFU",)),
    ("fp32 math", ("FMUL", "FFMA", "FADD", "FMNMX", "FSEL", "FSETP", "FCHK")),
    ("pack / int sums", ("I2IP", "F2IP", "PRMT", "IDP", "F2FP")),
    ("shared memory", ("LDS", "STS", "LDSM")),
    ("local memory (spills)", ("LDL", "STL")),
    ("global memory", ("LDG", "STG", "LD.", "ST.", "CCTL")),
    ("moves", ("MOV", "IMAD.MOV", "CS2R", "S2R", "R2UR", "SHFL")),
    ("uniform datapath", ("U",)),
    ("sync / barriers", ("SYNCS", "BAR", "WARPSYNC", "VOTE", "BSSY", "BSYNC", "NOP")),
    ("branches", ("BRA", "EXIT", "RET", "CALL")),
]


def category(op):
    for name, prefixes in CATEGORIES:
        if any(op.startswith(p) for p in prefixes):
            return name
    return "integer / other"


def find_cuobjdump():
    """cuobjdump, with the nvdisasm that its -sass runs (beside it, on PATH or
    in $NVDISASM_PATH)."""
    candidates = [os.environ.get("CUOBJDUMP"), shutil.which("cuobjdump")]
    for root in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root:
            candidates.append(os.path.join(root, "bin", "cuobjdump"))
    try:
        import nvidia  # PyPI: nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm

        for base in nvidia.__path__:
            candidates += sorted(glob.glob(os.path.join(base, "*", "bin", "cuobjdump")))
    except ImportError:
        pass
    for c in candidates:
        if not (c and os.path.isfile(c) and os.access(c, os.X_OK)):
            continue
        beside = os.path.join(os.path.dirname(c), "nvdisasm")
        if os.access(beside, os.X_OK):
            os.environ.setdefault("NVDISASM_PATH", os.path.dirname(c))
            return c
        if shutil.which("nvdisasm") or os.environ.get("NVDISASM_PATH"):
            return c
    print("sass_mix: no cuobjdump with nvdisasm found (set CUOBJDUMP, or pip install "
          "nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm): the SASS is not read", file=sys.stderr)
    sys.exit(NO_TOOL_EXIT)


NO_TOOL_EXIT = 1  # --skip-code


def read_sass(path):
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x7fELF") or head.startswith(b"!<arch>"):  # object, executable, library
        tool = find_cuobjdump()
        def run(flag):
            done = subprocess.run([tool, flag, path], capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"sass_mix: {tool} {flag} {path} failed:\n{done.stderr.strip()}")
            return done.stdout

        return run("-sass"), run("-res-usage")
    with open(path) as f:
        return f.read(), ""


ARCH = re.compile(r"\s*arch = (\S+)")


def lines_by_arch(text):
    """(architecture, line) for cuobjdump's lines; its `arch = ...` lines set
    the architecture of those after them (a fat binary holds one copy of a
    kernel per architecture)."""
    arch = "?"
    for line in text.splitlines():
        m = ARCH.match(line)
        if m:
            arch = m.group(1)
        else:
            yield arch, line


def parse_functions(sass):
    """{(arch, mangled name): [(address, text)]} in the order cuobjdump prints them."""
    functions, current = collections.OrderedDict(), None
    for arch, line in lines_by_arch(sass):
        m = re.match(r"\s+Function : (\S+)", line)
        if m:
            current = functions.setdefault((arch, m.group(1)), [])
            continue
        m = re.match(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m and current is not None:
            current.append((int(m.group(1), 16), m.group(2).strip()))
    return functions


def parse_resources(res):
    """{(arch, mangled name): {REG, STACK, SHARED, LOCAL, ...}} from cuobjdump -res-usage."""
    out, name = {}, None
    for arch, line in lines_by_arch(res):
        m = re.match(r"\s*Function (\S+):", line)
        if m:
            name = (arch, m.group(1))
        elif name and "REG:" in line:
            out[name] = {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", line)}
            name = None
    return out


PRED = re.compile(r"^(@!?U?P[T0-9]+)\s+")


def opcode(text):
    return PRED.sub("", text).split()[0]


def branch_target(text):
    """The target address of a BRA (any form, e.g. `BRA.DIV UR4, 0x..`), else None."""
    if not opcode(text).startswith("BRA"):
        return None
    m = re.search(r"(0x[0-9a-f]+)$", text)
    return int(m.group(1), 16) if m else None


def hot_loop(code):
    """(head, back-edge address) of the loop with the most tensor-core instructions."""
    index = {a: i for i, (a, _) in enumerate(code)}
    tensor_before = [0]  # tensor-core instructions before index i
    for _, text in code:
        tensor_before.append(tensor_before[-1] + opcode(text).startswith(TENSOR_OPS))
    best = None
    for i, (addr, text) in enumerate(code):
        target = branch_target(text)
        if target is None or target > addr or target not in index:
            continue
        tensor = tensor_before[i + 1] - tensor_before[index[target]]
        key = (tensor, -(addr - target))  # innermost among equals: the shorter loop
        if tensor and (best is None or key > best[0]):
            best = (key, target, addr)
    return (best[1], best[2]) if best else None


def fall_through_path(code, head, back_edge):
    """Instructions of the path described in the module docstring, and the
    conditional forward branches on it with the size of the code they skip."""
    index = {a: i for i, (a, _) in enumerate(code)}
    path, skips, i, seen = [], [], index[head], set()
    while i < len(code):
        addr, text = code[i]
        if addr in seen:  # a cycle that is not the back edge: stop
            break
        seen.add(addr)
        path.append((addr, text))
        if addr == back_edge:
            break
        target = branch_target(text)
        op = opcode(text)
        if target is not None:
            conditional = PRED.match(text) is not None or ".DIV" in op or ".ANY" in op
            if not conditional:
                if head <= target <= back_edge and target in index:
                    i = index[target]
                    continue
                break
            if addr < target <= back_edge and target in index:
                skips.append((addr, target, len(path)))
        i += 1
    # A taken branch skips the path's instructions up to where the path
    # reaches its target; branches whose target the path never reaches (it
    # jumped over it) skip code that is not on the path.
    position = {a: k for k, (a, _) in enumerate(path)}
    skipped = [(a, position[t] - k) for a, t, k in skips if t in position and position[t] > k]
    return path, skipped


PMODES = {0: "int8_running", 1: "uint8_block", 2: "f16", 3: "bf16"}


def traits_of(name):
    """(head dim, P mode, kv_block, warps or consumer warpgroups, kernel) from
    the mangled names of sm80 attention_kernel<KernelTraits<D, PMode, N, W, S>>
    and sm90 attention_kernel<Traits<D, PMode, N, C>>, else None."""
    m = re.search(r"(KernelTraits|6Traits)ILi(\d+)ELNS0_5PModeE(\d)ELi(\d+)ELi(\d+)E", name)
    if not m:
        return None
    kernel = "mma.sync" if m.group(1) == "KernelTraits" else "wgmma"
    return int(m.group(2)), PMODES.get(int(m.group(3)), m.group(3)), int(m.group(4)), int(m.group(5)), kernel


def summarize(key, code, resources, elements):
    arch, name = key
    loop = hot_loop(code)
    traits = traits_of(name)
    if not elements and traits:
        elements = traits[2] / 2
    report = {"kernel": name, "arch": arch, "resources": resources.get(key, {}), "instructions": len(code),
              "traits": traits, "elements": elements,
              # setmaxnreg: the register counts the warpgroups switch to at run time
              "setmaxnreg": [int(m, 16) for _, t in code
                             for m in re.findall(r"USETMAXREG\S*\s+(?:UP\w+,\s*)?(0x[0-9a-f]+)", t)]}
    if loop is None:
        report["loop"] = None
        return report
    head, back = loop
    path, skips = fall_through_path(code, head, back)
    ops = collections.Counter(opcode(t) for _, t in path)
    cats = collections.Counter()
    for op, n in ops.items():
        cats[category(op)] += n
    report["loop"] = {
        "head": f"0x{head:x}",
        "back_edge": f"0x{back:x}",
        "path_instructions": len(path),
        "opcodes": dict(ops.most_common()),
        "categories": dict(cats.most_common()),
        "fall_through_skips": [{"branch": f"0x{a:x}", "skipped_instructions": n} for a, n in skips],
    }
    if elements:
        report["loop"]["per_element"] = round(len(path) / elements, 2)
    report["path"] = path
    return report


def print_report(r, elements, listing):
    res = r["resources"]
    res_text = " ".join(f"{k}={v}" for k, v in res.items()) if res else "(no -res-usage: text input)"
    regs = f"; setmaxnreg {', '.join(map(str, r['setmaxnreg']))}" if r["setmaxnreg"] else ""
    print(f"{r['kernel']} ({r['arch']})\n  {r['instructions']} instructions; {res_text}{regs}")
    loop = r["loop"]
    if loop is None:
        print("  no loop with tensor-core instructions")
        return
    per = f", {loop['per_element']} per score element" if elements else ""
    print(f"  hot loop {loop['head']}..{loop['back_edge']}: fall-through path "
          f"{loop['path_instructions']} instructions per warp and iteration{per}")
    for s in loop["fall_through_skips"]:
        if 8 <= s["skipped_instructions"] < loop["path_instructions"] // 2:
            print(f"    counted: {s['skipped_instructions']} instructions that the branch at {s['branch']} "
                  "skips when taken")
    for cat, n in loop["categories"].items():
        share = f"{n / elements:6.2f}/elem" if elements else ""
        print(f"    {n:5d} {share}  {cat}")
    print("    opcodes: " + ", ".join(f"{op} {n}" for op, n in loop["opcodes"].items()))
    if listing:
        for a, t in r["path"]:
            print(f"      {a:05x}  {t}")



# ---- --check: what the SASS of every attention kernel must show ----------------------
# Per loop iteration (one key block), per warp, on the fall-through path:
#  * tensor work: the products' multiply-adds sum to exactly one Q̂·K̂ᵀ and one
#    P·V of the warp's (wgmma: warpgroup's) tile, Σ N·K over the instructions =
#    kv_block·D for each; Q̂·K̂ᵀ as s8·s8, P·V as u8·s8 (intfa), s8·s8 (paper)
#    or f16/bf16 (half-int8); the wgmma kernel issues GMMA only (no mma.sync);
#  * one exponential (MUFU.EX2) per score element, plus per row (2 per thread)
#    the rescale factor and, for uint8 P from the block max, the block weight;
#  * the wgmma kernel converts every int32 of S and Ô with one I2FP (kv_block/2
#    + D/2 per thread); the mma.sync kernel has none in the loop (its products
#    start from the magic bias: an FADD converts);
#  * against a baseline recorded with the same CUDA compiler: no longer path,
#    no more local-memory (spill) instructions on it.
MMA_SHAPE = re.compile(r"^(IGMMA|HGMMA|QGMMA)\.(\d+)x(\d+)x(\d+)\.(\w+)\.(\w+)|^(IMMA|HMMA)\.(\d\d)(\d)(\d+)((?:\.\w+)*)")


def products(opcodes):
    """{operand types: Σ N·K} of the loop's tensor instructions, and whether
    any is an mma.sync (IMMA/HMMA) one."""
    sums, any_mma = collections.Counter(), False
    for op, n in opcodes.items():
        m = MMA_SHAPE.match(op)
        if not m:
            continue
        if m.group(1):
            sums[f"{m.group(5)}.{m.group(6)}"] += n * int(m.group(3)) * int(m.group(4))
        else:
            any_mma = True
            mn, k = int(m.group(9)), int(m.group(10))
            suffix = m.group(11)
            if m.group(7) == "IMMA":
                types = suffix.strip(".")  # e.g. S8.S8, U8.S8
            else:  # HMMA.16816.F32 (f16 inputs) or HMMA.16816.F32.BF16
                types = "BF16" if suffix.endswith(".BF16") else "F16"
            sums[types] += n * mn * k
    return sums, any_mma


def baseline_key(r):
    d, mode, n, w, kernel = r["traits"]
    return f"{r['arch']} {kernel} d{d} {mode} n{n} {'c' if kernel == 'wgmma' else 'w'}{w}"


def check_kernel(r, baseline):
    """Problems (strings) of one kernel's report; [] when it passes."""
    d, mode, n, _, kernel = r["traits"]
    loop = r["loop"]
    if loop is None:
        return ["no loop with tensor-core instructions"]
    ops, problems = loop["opcodes"], []
    sums, any_mma = products(ops)
    pv_types = {"uint8_block": "U8.S8", "int8_running": "S8.S8", "f16": "F16", "bf16": "BF16"}[mode]
    want = collections.Counter({"S8.S8": n * d})
    want[pv_types] += n * d
    if sums != want:
        problems.append(f"tensor work per iteration {dict(sums)} (Σ N·K by operand types), expected {dict(want)}")
    if kernel == "wgmma" and any_mma:
        problems.append("mma.sync instructions in the wgmma kernel's loop")
    ex2 = n // 2 + (4 if mode == "uint8_block" else 2)
    if ops.get("MUFU.EX2", 0) != ex2:
        problems.append(f"{ops.get('MUFU.EX2', 0)} MUFU.EX2 per iteration, expected {ex2}")
    i2f = n // 2 + d // 2 if kernel == "wgmma" else 0
    if ops.get("I2FP.F32.S32", 0) != i2f:
        problems.append(f"{ops.get('I2FP.F32.S32', 0)} I2FP.F32.S32 per iteration, expected {i2f}")
    if baseline is not None:
        local = loop["categories"].get("local memory (spills)", 0)
        if loop["path_instructions"] > baseline["path"]:
            problems.append(f"loop path {loop['path_instructions']} instructions, baseline {baseline['path']}")
        if local > baseline["local"]:
            problems.append(f"{local} local-memory instructions on the loop path, baseline {baseline['local']}")
    return problems


def run_check(reports, baseline_path, compiler, write):
    """--check / --write-baseline over the attention kernels; the exit code."""
    kernels = [r for r in reports if r["traits"]]
    if not kernels:
        print("sass_mix --check: no attention kernels found")
        return 1
    if write:
        data = {"cuda_compiler": compiler,
                "kernels": {baseline_key(r): {"path": r["loop"]["path_instructions"],
                                              "local": r["loop"]["categories"].get("local memory (spills)", 0)}
                            for r in kernels if r["loop"]}}
        with open(baseline_path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {len(data['kernels'])} kernels to {baseline_path} (CUDA compiler {compiler})")
        return 0
    base = {}
    if baseline_path and os.path.exists(baseline_path):
        with open(baseline_path) as f:
            data = json.load(f)
        if compiler and data.get("cuda_compiler") == compiler:
            base = data["kernels"]
        else:
            print(f"baseline {baseline_path} was recorded with CUDA compiler {data.get('cuda_compiler')}, "
                  f"this build uses {compiler or '(not given)'}: path lengths and spills not compared")
    failed = 0
    for r in kernels:
        key = baseline_key(r)
        problems = check_kernel(r, base.get(key))
        loop = r["loop"] or {}
        note = ""
        if key in base and loop and loop["path_instructions"] < base[key]["path"]:
            note = f" (shorter than the baseline's {base[key]['path']}: refresh it with --write-baseline)"
        elif base and key not in base:
            note = " (not in the baseline)"
        status = "FAIL" if problems else "ok"
        print(f"{status:4s} {key}: loop path {loop.get('path_instructions', '-')}{note}")
        for p in problems:
            print(f"       {p}")
        failed += bool(problems)
    print(f"{len(kernels) - failed} of {len(kernels)} attention kernels pass")
    return 1 if failed else 0


SUMMARY_HEADER = ("arch    kernel    D  P mode        kv_block  w/c  regs  setmaxnreg  stack  "
                  "loop path  per elem  LDL/STL  moves")


def summary_line(r):
    t = r["traits"] or ("?", "?", "?", "?", "?")
    res = r["resources"]
    loop = r["loop"] or {}
    cats = loop.get("categories", {})
    regs = "/".join(map(str, r["setmaxnreg"])) or "-"
    return (f"{r['arch']:7s} {t[4]:8s} {t[0]:>3}  {t[1]:12s}  {t[2]:>8}  {t[3]:>3}  {res.get('REG', '?'):>4}  {regs:>10}  "
            f"{res.get('STACK', '?'):>5}  {loop.get('path_instructions', '-'):>9}  "
            f"{loop.get('per_element', '-'):>8}  {cats.get('local memory (spills)', 0):>7}  "
            f"{cats.get('moves', 0):>5}")


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+",
                    help="objects/executables with device code, or cuobjdump -sass text dumps")
    ap.add_argument("--kernel", default="", help="only kernels whose mangled name contains this")
    ap.add_argument("--elements", type=float, default=0, help="score elements per thread and iteration")
    ap.add_argument("--json", action="store_true", help="one JSON object per kernel instead of text")
    ap.add_argument("--summary", action="store_true", help="one line per kernel")
    ap.add_argument("--check", metavar="BASELINE", help="check the attention kernels (see the comment "
                    "above check_kernel) against a baseline JSON file")
    ap.add_argument("--write-baseline", action="store_true", help="with --check: record the baseline instead")
    ap.add_argument("--compiler-version", default="", help="CUDA compiler version of the build (--check)")
    ap.add_argument("--skip-code", type=int, default=1,
                    help="exit code when no cuobjdump is found (CTest's SKIP_RETURN_CODE)")
    ap.add_argument("--listing", action="store_true", help="also print the path's instructions")
    args = ap.parse_args()
    global NO_TOOL_EXIT
    NO_TOOL_EXIT = args.skip_code
    found = False
    checked = []
    if args.summary:
        print(SUMMARY_HEADER)
    for path in args.inputs:
        sass, res = read_sass(path)
        resources = parse_resources(res)
        for key, code in parse_functions(sass).items():
            if args.kernel not in key[1] or not code:
                continue
            found = True
            r = summarize(key, code, resources, args.elements)
            if args.check:
                checked.append(r)
            elif args.json:
                r.pop("path", None)
                r["input"] = path
                print(json.dumps(r))
            elif args.summary:
                if r["traits"] or r["loop"]:  # attention kernels, not the helpers
                    print(summary_line(r))
            else:
                print_report(r, r["elements"], args.listing)
    if not found:
        sys.exit(f"sass_mix: no kernel matching '{args.kernel}' in {' '.join(args.inputs)}")
    if args.check:
        sys.exit(run_check(checked, args.check, args.compiler_version, args.write_baseline))


if __name__ == "__main__":
    main()
