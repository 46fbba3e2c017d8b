#!/usr/bin/env python3
"""Tiny random-weight GGUF models of each architecture TokenPress runs, with llama.cpp's figures for them.

Run by hand, never in CI (it needs llama-cpp-python, whose build takes ~10 minutes):
    python3 -m pip install llama-cpp-python==0.3.36 gguf
    python3 scripts/make_tiny_architectures.py Tests/FidelityTests/Fixtures/architectures

For each model (qwen2, qwen3, llama3, llama-q5k: Llama 3 with Q5_K matrices, gemma3-scaled) it writes, into the folder:
    NAME.gguf   the model: 2 blocks (Gemma: 6, five local and one global), width 64, Q8_0 matrices, f32 norms and biases, a byte-level BPE vocabulary
                trained on tokenizer_text.txt (so the pre-tokenizer and merges matter), the architecture's
                special tokens and pre-tokenizer name
    NAME.json   llama.cpp's tokenization of tokenizer_text.txt and of the prompt, and the 32 largest logits at
                every position of the prompt, evaluated one token at a time (its decode kernels) and in one batch
    build.txt   which llama.cpp build made the figures
The weights come from numpy's generator with a fixed seed, so a rerun writes the same files.
"""
import collections
import json
import math
import os
import re
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QType

TEXT_FOLDER = os.path.join(os.path.dirname(__file__), "..", "Tests", "FidelityTests", "Fixtures")
MERGES = 300
WIDTH, HEADS, KV_HEADS, FF, LAYERS, CONTEXT = 64, 4, 2, 128, 2, 512
LOGITS_TOP = 32
PROMPT_TOKENS = 48


def byte_spellings():
    """GPT-2's printable spelling of each byte (byte-level BPE vocabularies store tokens this way)."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    spelled, extra = {}, 256
    for b in range(256):
        if b in printable:
            spelled[b] = chr(b)
        else:
            spelled[b] = chr(extra)
            extra += 1
    return spelled


def train_merges(text, count):
    """A small BPE vocabulary: the `count` most frequent adjacent pairs, merged greedily (ties by spelling)."""
    spell = byte_spellings()
    words = collections.Counter(re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^A-Za-z0-9\s]+|\s+", text))
    pieces = {w: [spell[b] for b in w.encode("utf-8")] for w in words}
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for word, n in words.items():
            p = pieces[word]
            for a, b in zip(p, p[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for word in words:
            p, out, i = pieces[word], [], 0
            while i < len(p):
                if i + 1 < len(p) and (p[i], p[i + 1]) == best:
                    out.append(p[i] + p[i + 1])
                    i += 2
                else:
                    out.append(p[i])
                    i += 1
            pieces[word] = out
    return merges


class Random:
    def __init__(self, seed):
        self.generator = np.random.default_rng(seed)

    def normal(self, shape, scale):
        return (self.generator.standard_normal(shape) * scale).astype(np.float32)

    def norm(self, n):
        return (1 + self.generator.standard_normal(n) * 0.1).astype(np.float32)


def llama3_rope_factors(base, dimensions, factor=8.0, low=1.0, high=4.0, original_context=64):
    """Llama 3's frequency factors as llama.cpp's converter writes them to `rope_freqs.weight` (a short original
    context, so the few frequencies of a tiny head fall on all three sides of the rule)."""
    factors = []
    for i in range(0, dimensions, 2):
        frequency = 1.0 / base ** (i / dimensions)
        wavelength = 2 * math.pi / frequency
        if wavelength < original_context / high:
            factors.append(1.0)
        elif wavelength > original_context / low:
            factors.append(factor)
        else:
            smooth = (original_context / wavelength - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


MODELS = {
    "qwen2": dict(arch="qwen2", pre="qwen2", head_dim=16, rope_base=1e6, biases=True, qk_norm=False, tied=True,
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos=None, eos="<|im_end|>"),
    "qwen3": dict(arch="qwen3", pre="qwen2", head_dim=32, rope_base=1e6, biases=False, qk_norm=True, tied=False,
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos=None, eos="<|im_end|>"),
    "llama3": dict(arch="llama", pre="llama-bpe", head_dim=16, rope_base=5e5, biases=False, qk_norm=False,
                   tied=True, rope_freqs=True,
                   specials=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                             "<|eot_id|>"], bos="<|begin_of_text|>", eos="<|eot_id|>"),
    "gemma3-scaled": dict(arch="gemma3", pre="default", head_dim=16, rope_base=1e6, biases=False, qk_norm=True,
                          tied=True, gemma=True, layers=6, linear_scaling=8.0,
                          specials=["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"], bos="<bos>",
                          eos="<end_of_turn>"),
    "llama-q5k": dict(arch="llama", pre="llama-bpe", head_dim=64, rope_base=5e5, biases=False, qk_norm=False,
                      tied=True, width=256, ff=256, layers=1, matrix_type="Q5_K",
                      specials=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                "<|eot_id|>"], bos="<|begin_of_text|>", eos="<|eot_id|>"),
}

PROMPTS = {
    "qwen": "<|im_start|>user\nWhat is 12 times 7? Answer in one word.<|im_end|>\n<|im_start|>assistant\nThe answer",
    "llama": "<|start_header_id|>user<|end_header_id|>\n\nWhat is 12 times 7? Answer in one word.<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\nThe answer",
    "gemma": "<start_of_turn>user\nWhat is 12 times 7? Answer in one word.<end_of_turn>\n<start_of_turn>model\n",
}


def write_model(path, spec, merges, seed):
    arch = spec["arch"]
    spell = byte_spellings()
    tokens = [spell[b] for b in range(256)] + ["".join(m) for m in merges] + spec["specials"]
    types = [1] * (len(tokens) - len(spec["specials"])) + [3] * len(spec["specials"])
    w = gguf.GGUFWriter(path, arch)
    w.add_name("tiny-random-" + os.path.basename(path).removesuffix(".gguf"))
    layers = spec.get("layers", LAYERS)
    width, ff = spec.get("width", WIDTH), spec.get("ff", FF)
    w.add_block_count(layers)
    w.add_context_length(CONTEXT)
    w.add_embedding_length(width)
    w.add_feed_forward_length(ff)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    head_dim = spec["head_dim"]
    if head_dim != width // HEADS:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_rope_freq_base(spec["rope_base"])
    w.add_layer_norm_rms_eps(1e-6)
    if spec.get("gemma"):
        w.add_sliding_window(8)  # llama.cpp's pattern for gemma3: five local layers, then a global one
    if spec.get("linear_scaling"):
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(spec["linear_scaling"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(spec["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([" ".join(m) for m in merges])
    if spec["bos"]:
        w.add_bos_token_id(tokens.index(spec["bos"]))
    w.add_add_bos_token(spec["bos"] is not None)
    w.add_eos_token_id(tokens.index(spec["eos"]))

    r = Random(seed)
    q_dim, kv_dim = HEADS * head_dim, KV_HEADS * head_dim

    def matrix(name, rows, columns, scale, kind="Q8_0"):
        if kind == "Q5_K":
            # Random Q5_K blocks (176 bytes: d, dmin, 12 bytes of 6-bit scales and mins, 32 high bits, 128 low
            # nibbles) with small positive f16 d and dmin: every byte pattern is a valid block.
            blocks = r.generator.integers(0, 256, size=(rows, columns // 256, 176), dtype=np.uint8)
            d = (r.generator.uniform(0.5, 1.5, size=(rows, columns // 256)) * scale / 64).astype(np.float16)
            dmin = (r.generator.uniform(0.5, 1.5, size=(rows, columns // 256)) * scale / 64).astype(np.float16)
            blocks[:, :, 0:2] = d.view(np.uint8).reshape(rows, columns // 256, 2)
            blocks[:, :, 2:4] = dmin.view(np.uint8).reshape(rows, columns // 256, 2)
            w.add_tensor(name, blocks.reshape(rows, -1), raw_dtype=QType.Q5_K)
            return
        values = r.normal((rows, columns), scale)
        w.add_tensor(name, gguf.quants.quantize(values, QType.Q8_0), raw_dtype=QType.Q8_0)

    def vector(name, values):
        w.add_tensor(name, values)

    kind = spec.get("matrix_type", "Q8_0")
    matrix("token_embd.weight", len(tokens), width, 0.5)
    if spec.get("rope_freqs"):
        vector("rope_freqs.weight", llama3_rope_factors(spec["rope_base"], head_dim))
    for i in range(layers):
        vector(f"blk.{i}.attn_norm.weight", r.norm(width))
        matrix(f"blk.{i}.attn_q.weight", q_dim, width, 0.2, kind)
        matrix(f"blk.{i}.attn_k.weight", kv_dim, width, 0.2, kind)
        matrix(f"blk.{i}.attn_v.weight", kv_dim, width, 0.2, kind)
        if spec["biases"]:
            vector(f"blk.{i}.attn_q.bias", r.normal(q_dim, 0.5))
            vector(f"blk.{i}.attn_k.bias", r.normal(kv_dim, 0.5))
            vector(f"blk.{i}.attn_v.bias", r.normal(kv_dim, 0.5))
        if spec["qk_norm"]:
            vector(f"blk.{i}.attn_q_norm.weight", r.norm(head_dim))
            vector(f"blk.{i}.attn_k_norm.weight", r.norm(head_dim))
        matrix(f"blk.{i}.attn_output.weight", width, q_dim, 0.2, kind)
        if spec.get("gemma"):
            vector(f"blk.{i}.post_attention_norm.weight", r.norm(width))
        vector(f"blk.{i}.ffn_norm.weight", r.norm(width))
        matrix(f"blk.{i}.ffn_gate.weight", ff, width, 0.2, kind)
        matrix(f"blk.{i}.ffn_up.weight", ff, width, 0.2, kind)
        matrix(f"blk.{i}.ffn_down.weight", width, ff, 0.2, kind)
        if spec.get("gemma"):
            vector(f"blk.{i}.post_ffw_norm.weight", r.norm(width))
    vector("output_norm.weight", r.norm(width))
    if not spec["tied"]:
        matrix("output.weight", len(tokens), width, 0.5)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def top_rows(scores, count):
    rows = []
    for row in scores:
        ids = np.argsort(-row, kind="stable")[:LOGITS_TOP]
        rows.append({"ids": [int(t) for t in ids], "values": [float(row[t]) for t in ids]})
    return rows[:count]


def reference(path, prompt, text):
    from llama_cpp import Llama
    figures = {}
    for label, batch in (("one_at_a_time", 1), ("batched", 512)):
        llm = Llama(model_path=path, n_ctx=CONTEXT, n_batch=batch, n_ubatch=batch, n_threads=2, logits_all=True,
                    flash_attn=False, verbose=False)
        add_bos = llm._model.add_bos_token()
        ids = llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        # Repeat the prompt until it is long enough to cross a sliding window several times.
        ids = (ids * (PROMPT_TOKENS // len(ids) + 1))[:PROMPT_TOKENS]
        llm.eval(ids)
        figures[label] = top_rows(llm.scores, len(ids))
        figures["prompt_ids"] = ids
        figures["text_ids"] = llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)
        figures["prompt"] = prompt
        del llm
    return figures


def main():
    import llama_cpp
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    text = open(os.path.join(TEXT_FOLDER, "tokenizer_text.txt"), encoding="utf-8", newline="").read()
    merges = train_merges(text, MERGES)
    info = llama_cpp.llama_print_system_info().decode()
    with open(os.path.join(folder, "build.txt"), "w") as f:
        f.write(f"llama-cpp-python {llama_cpp.__version__}: {info}\n")
    for seed, (name, spec) in enumerate(MODELS.items()):
        path = os.path.join(folder, name + ".gguf")
        write_model(path, spec, merges, seed)
        family = "qwen" if spec["arch"].startswith("qwen") else "gemma" if spec.get("gemma") else "llama"
        figures = reference(path, PROMPTS[family], text)
        figures.update(architecture=spec["arch"], top=LOGITS_TOP, source="tokenizer_text.txt")
        with open(os.path.join(folder, name + ".json"), "w") as f:
            json.dump(figures, f)
        print(f"{name}: {os.path.getsize(path)} bytes, prompt {len(figures['prompt_ids'])} tokens, "
              f"text {len(figures['text_ids'])} tokens")


if __name__ == "__main__":
    main()
