#!/usr/bin/env python3
"""KV cache quantization in llama.cpp and in TokenPress, side by side on the same GGUF file and text.

Run by hand (never in CI): needs llama-cpp-python (`pip install llama-cpp-python==0.3.36` builds llama.cpp for this
CPU, about 10 minutes) and a release build of TokenPress (`swift build -c release`).

Both engines read the same text and cut its tokens into the same windows of --ctx tokens (their tokenizers give
identical tokens: TokenizerTests/LlamaCppFidelityTests). In each window the second half is scored teacher-forced,
as `llama-perplexity --kl-divergence` and `tokenpress perplexity --kl-divergence` do. Each engine is compared with
its own f16 cache: KL(f16 || quantized) per scored token, reported with llama-perplexity's fields (mean, median,
99%, 99.9%, max, same top-1 share, RMS of the change in the target's probability). llama.cpp runs with flash
attention on (it cannot quantize V without it), its f16 base too; TokenPress attends over the stored blocks.
Every type runs both ways: with the Hadamard rotation of K/V rows that this llama.cpp build applies by default
(TokenPress: --kv-rotate) and without it (llama.cpp: LLAMA_ATTN_ROT_DISABLE=1).

    scripts/llamacpp_kv_quant.py [-m MODEL.gguf] [--ctx 4096] [--windows 4] [-t 2] \\
        [--types q8_0,q4_0,q4_1,q5_0,q5_1] [--press kivi:bits=4 --press mikv@0.5 ...] \\
        [--json docs/eval/kv-quant.json] [--markdown docs/eval/kv-quant.md]

The text is the start of the test split of RULER's Paul Graham essays (the first half of the haystack that
`tokenpress eval` fetches into the cache), cut at a sentence end.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("TOKENPRESS_CACHE", os.path.expanduser("~/.cache/tokenpress"))
DEFAULT_MODEL = os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf")
HAYSTACK = os.path.join(CACHE, "haystack-paul-graham-essays.txt")
TYPES = {"f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8}
# Bytes per row of 64 values: f16 128; blocks of 32 values.
ROW_BYTES = {"f16": 128, "q8_0": 68, "q4_0": 36, "q4_1": 40, "q5_0": 44, "q5_1": 48}


def log_softmax(logits):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def divergence(base, tested, targets):
    """llama-perplexity's KL fields for rows of log-probabilities."""
    p = np.exp(base)
    kl = (p * (base - tested)).sum(axis=1)
    rows = np.arange(len(targets))
    delta_p = np.exp(tested[rows, targets]) - np.exp(base[rows, targets])
    same_top = (base.argmax(axis=1) == tested.argmax(axis=1)).mean()
    return {"mean": float(kl.mean()), "median": float(np.median(kl)), "p99": float(np.percentile(kl, 99)),
            "p99_9": float(np.percentile(kl, 99.9)), "max": float(kl.max()), "same_top_share": float(same_top),
            "rms_delta_p": float(math.sqrt((delta_p ** 2).mean())), "kl_tokens": kl.tolist()}


def bootstrap_mean(values, resamples=2000, seed=0):
    rng = np.random.default_rng(seed)
    values = np.asarray(values)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def llamacpp_rows(model, tokens, ctx, windows, threads, type_k, type_v, rotate=True):
    """Log-probabilities of every scored token (second half of each window) and their targets. llama.cpp rotates
    quantized K/V rows unless LLAMA_ATTN_ROT_DISABLE is set when the context is made."""
    from llama_cpp import Llama
    if rotate:
        os.environ.pop("LLAMA_ATTN_ROT_DISABLE", None)
    else:
        os.environ["LLAMA_ATTN_ROT_DISABLE"] = "1"
    llm = Llama(model_path=model, n_ctx=ctx, n_batch=ctx, n_ubatch=512, n_threads=threads, logits_all=True,
                flash_attn=True, type_k=TYPES[type_k], type_v=TYPES[type_v], verbose=False)
    first = ctx // 2
    rows, targets = [], []
    for w in range(windows):
        window = tokens[w * ctx:(w + 1) * ctx]
        llm.reset()
        llm.eval(window)
        scores = np.array(llm.scores[first:ctx - 1], dtype=np.float32)
        rows.append(log_softmax(scores))
        targets += window[first + 1:ctx]
    del llm
    return np.concatenate(rows), np.array(targets)


def tokenpress(args, text_file, extra):
    command = [args.tokenpress, "perplexity", "-m", args.model, "-f", text_file, "--ctx", str(args.ctx),
               "--max-tokens", str(args.ctx * args.windows), "-t", str(args.threads), "--json"] + extra
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-m", "--model", default=DEFAULT_MODEL)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--types", default="q8_0,q4_0,q4_1,q5_0,q5_1")
    parser.add_argument("--press", action="append", default=[], help="TokenPress-only settings to add (repeatable)")
    parser.add_argument("--tokenpress", default=os.path.join(ROOT, ".build/release/tokenpress"))
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    parser.add_argument("--reuse-llamacpp", metavar="JSON",
                        help="take llama.cpp's rows from an earlier --json report of the same model, --ctx and "
                             "--windows, and run only TokenPress (no llama-cpp-python needed)")
    args = parser.parse_args()
    types = [t for t in args.types.split(",") if t]

    with open(HAYSTACK, encoding="utf-8") as f:
        essays = f.read()
    cut = essays.find(". ", 120_000) + 1
    text = essays[:cut]
    text_file = os.path.join(tempfile.mkdtemp(), "essays.txt")
    with open(text_file, "w", encoding="utf-8") as f:
        f.write(text)

    rows = []
    started = time.time()
    if args.reuse_llamacpp:
        rows, scored, llamacpp_ppl, build = reused_llamacpp_rows(args)
    else:
        rows, scored, llamacpp_ppl, build = llamacpp_side(args, text, types)
    tokenpress_side(args, text_file, types, rows, scored, llamacpp_ppl, build, started)


def reused_llamacpp_rows(args):
    """llama.cpp's rows of an earlier report, refused when it measured another model, context or window count."""
    with open(args.reuse_llamacpp) as f:
        earlier = json.load(f)
    for key, value in (("model", os.path.basename(args.model)), ("ctx", args.ctx), ("windows", args.windows)):
        if earlier.get(key) != value:
            sys.exit(f"{args.reuse_llamacpp} measured {key} {earlier.get(key)!r}, not {value!r}")
    rows = [r for r in earlier["rows"] if r["engine"] == "llama.cpp"]
    return rows, earlier["scored_tokens"], earlier["llamacpp_f16_ppl"], earlier["llamacpp_build"]


def llamacpp_side(args, text, types):
    """llama.cpp's f16 base, then each type against it, both ways (rotated and not)."""
    from llama_cpp import Llama
    vocab = Llama(model_path=args.model, vocab_only=True, verbose=False)
    tokens = vocab.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    need = args.ctx * args.windows
    if len(tokens) < need:
        sys.exit(f"the text has {len(tokens)} tokens, fewer than {need}")
    rows = []

    # llama.cpp: f16 base, then each type against it.
    base, targets = llamacpp_rows(args.model, tokens, args.ctx, args.windows, args.threads, "f16", "f16", False)
    base_nll = float(-base[np.arange(len(targets)), targets].mean())
    print(f"llama.cpp f16: PPL {math.exp(base_nll):.4f} over {len(targets)} tokens", file=sys.stderr)
    layers, kv_heads, first = 30, 3, args.ctx // 2
    for name in types:
        for rotate in (True, False):
            tested, _ = llamacpp_rows(args.model, tokens, args.ctx, args.windows, args.threads, name, name, rotate)
            nll = float(-tested[np.arange(len(targets)), targets].mean())
            d = divergence(base, tested, targets)
            cache_bytes = first * layers * kv_heads * 2 * ROW_BYTES[name]
            label = f"{name}/{name}" + (" rotated" if rotate else "")
            rows.append({"engine": "llama.cpp", "setting": label, "ppl": math.exp(nll),
                         "base_ppl": math.exp(base_nll), "cache_bytes": cache_bytes,
                         "dense_f16_bytes": first * layers * kv_heads * 2 * 128, **d})
            print(f"llama.cpp {label}: mean KL {d['mean']:.6f}", file=sys.stderr)
    build = "llama-cpp-python 0.3.36 built on this machine (AVX2, no AVX-512), flash attention on"
    return rows, int(len(targets)), math.exp(base_nll), build


def tokenpress_side(args, text_file, types, rows, scored, llamacpp_ppl, build, started):
    """TokenPress's f16 base, each type both ways and each --press against it; then the report."""
    base_file = os.path.join(os.path.dirname(text_file), "base.kld")
    full = tokenpress(args, text_file, ["--kl-divergence-base", base_file])
    print(f"TokenPress f16: PPL {full['ppl']:.4f} over {full['tokens']} tokens", file=sys.stderr)
    settings = []
    for t in types:
        settings.append((f"{t}/{t} rotated", ["--cache-type-k", t, "--cache-type-v", t, "--kv-rotate"]))
        settings.append((f"{t}/{t}", ["--cache-type-k", t, "--cache-type-v", t]))
    settings += [(p, ["--press", p]) for p in args.press]
    for label, extra in settings:
        r = tokenpress(args, text_file, ["--kl-divergence-base", base_file, "--kl-divergence"] + extra)
        rows.append({"engine": "TokenPress", "setting": label, "ppl": r["ppl"], "base_ppl": r["base_ppl"],
                     "cache_bytes": r["cache_bytes"], "dense_f16_bytes": r["dense_f16_bytes"],
                     "mean_interval": r["kl_mean_interval"], **r["kl"]})
        print(f"TokenPress {label}: mean KL {r['kl']['mean']:.6f}", file=sys.stderr)

    # TokenPress reports its interval (a bootstrap over the scored tokens); llama.cpp's is computed here the same way.
    for row in rows:
        if "kl_tokens" in row:
            low, high = bootstrap_mean(row.pop("kl_tokens"))
            row["mean_interval"] = [low, high]
    report = {"model": os.path.basename(args.model), "ctx": args.ctx, "windows": args.windows,
              "scored_tokens": scored, "llamacpp_f16_ppl": llamacpp_ppl,
              "tokenpress_f16_ppl": full["ppl"], "seconds": time.time() - started, "rows": rows,
              "llamacpp_build": build}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    lines = [f"Model `{report['model']}`; {args.windows} windows of {args.ctx} tokens of the essays' test split, the "
             f"second half of each scored ({report['scored_tokens']} tokens); each engine against its own f16 cache "
             f"(PPL llama.cpp {report['llamacpp_f16_ppl']:.4f}, TokenPress {report['tokenpress_f16_ppl']:.4f}). "
             "Bytes: the cache after each window's first half; bits per element count everything (scales, "
             "positions; for an eviction press the evicted tokens count as 0). The cache types and `kivi` also store the "
             "scored half quantized, as its tokens are appended; the presses applied after the first half (`mikv`, "
             "`zipcache`, `zipvl`, the eviction presses) leave the scored tokens in f16. Mean KL with a 95% bootstrap "
             "interval over the scored tokens.", "",
             "| setting | engine | bits/element | saved vs f16 | PPL ratio | mean KL [95%] | median KL | 99% KL | "
             "99.9% KL | max KL | same top-1 | RMS Δp |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        bits = 16 * r["cache_bytes"] / r["dense_f16_bytes"]
        low, high = r["mean_interval"]
        lines.append(f"| {r['setting']} | {r['engine']} | {bits:.2f} | {100 * (1 - bits / 16):.1f}% | "
                     f"{r['ppl'] / r['base_ppl']:.4f} | {r['mean']:.5f} [{low:.5f}–{high:.5f}] | {r['median']:.5f} | "
                     f"{r['p99']:.4f} | {r['p99_9']:.4f} | {r['max']:.3f} | {100 * r['same_top_share']:.2f}% | "
                     f"{100 * r['rms_delta_p']:.3f}% |")
    markdown = "\n".join(lines) + "\n"
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
