#!/usr/bin/env python3
"""Reference figures from llama.cpp (via the PyPI package llama-cpp-python) for TokenPress's fidelity tests.

Run by hand, never in CI (building llama-cpp-python takes ~10 minutes):
    python3 -m pip install llama-cpp-python==0.3.36
    python3 scripts/llamacpp_reference.py MODEL.gguf Tests/FidelityTests/Fixtures
    python3 scripts/llamacpp_reference.py gemma-3-270m-q4_k_m.gguf Tests/FidelityTests/Fixtures/gemma3 \
        --texts Tests/FidelityTests/Fixtures --one-token-at-a-time
(the texts are read from --texts, default the fixtures folder; the prompts follow the model's chat format)

Writes, into the fixtures folder:
    tokens.json      llama.cpp's tokenization of tokenizer_text.txt (special tokens parsed)
    greedy.json      48 greedy tokens for each of several prompts
    perplexity.json  perplexity of the first 1,024 tokens of perplexity_text.txt in one window,
                     every token after the first scored (as `tokenpress perplexity --ctx 1024`)
    logits.json      the 32 largest logits (ids and values) at every position of a short prompt
    build.txt        llama.cpp's system info line (which SIMD build made the fixtures)
With --bench it also prints prefill and decode tokens/s at a 512-token prompt (2 threads).
"""
import json
import math
import os
import sys
import time

import numpy as np
from llama_cpp import Llama, llama_token_is_eog

GREEDY_PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nWrite a short poem about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Once upon a time, in a small village by the mountains,",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is 12 times 7?<|im_end|>\n<|im_start|>assistant\n",
]
GEMMA_PROMPTS = [
    "The capital of France is",
    "<start_of_turn>user\nWrite a short poem about the sea.<end_of_turn>\n<start_of_turn>model\n",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Once upon a time, in a small village by the mountains,",
    "<start_of_turn>user\nWhat is 12 times 7?<end_of_turn>\n<start_of_turn>model\n",
]
LOGITS_PROMPT = "The capital of France is Paris, and the capital of Italy is"
LOGITS_TOP = 32
GREEDY_TOKENS = 48
PPL_TOKENS = 1024


# --one-token-at-a-time: llama.cpp evaluates every prompt one token at a time (n_batch 1), so each figure comes
# from its decode kernels. Its batched kernels are not consistent with them on every model: on Gemma 3 270M the
# repacked Q4_K batch kernels move the 1,024-token perplexity by 0.47% (18.64 batched, 18.55 one at a time).
BATCH = 1 if "--one-token-at-a-time" in sys.argv else 512


def load(path, n_ctx, logits_all=False):
    return Llama(model_path=path, n_ctx=n_ctx, n_batch=BATCH, n_ubatch=BATCH, n_threads=2, logits_all=logits_all,
                 flash_attn=False, verbose=False)


def last_logits(llm):
    """Logits of the last evaluated token (without logits_all, llama-cpp-python keeps no scores)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def greedy(llm, prompt_tokens):
    llm.reset()
    llm.eval(prompt_tokens)
    out = []
    for _ in range(GREEDY_TOKENS):
        token = int(np.argmax(last_logits(llm)))
        if llama_token_is_eog(llm._model.vocab, token):
            break
        out.append(token)
        llm.eval([token])
    return out


def top_logits(llm, prompt):
    """The LOGITS_TOP largest logits at every position of `prompt`, as {ids, values} per position."""
    scorer = load(llm.model_path, 512, logits_all=True)
    tokens = scorer.tokenize(prompt.encode("utf-8"), add_bos=scorer._model.add_bos_token(), special=True)
    scorer.eval(tokens)
    rows = []
    for i in range(len(tokens)):
        row = scorer.scores[i]
        ids = np.argsort(-row)[:LOGITS_TOP]
        rows.append({"ids": [int(t) for t in ids], "values": [float(row[t]) for t in ids]})
    return {"prompt": prompt, "prompt_ids": tokens, "top": LOGITS_TOP, "positions": rows}


def main():
    import llama_cpp
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    model, fixtures = args[0], args[1]
    texts = fixtures
    if "--texts" in sys.argv:
        texts = sys.argv[sys.argv.index("--texts") + 1]
        args = [a for a in args if a != texts]
    os.makedirs(fixtures, exist_ok=True)
    llm = load(model, 4096)
    architecture = llm.metadata.get("general.architecture", "llama")
    prompts = GEMMA_PROMPTS if architecture.startswith("gemma") else GREEDY_PROMPTS
    info = llama_cpp.llama_print_system_info().decode()
    order = "one token at a time" if BATCH == 1 else f"batches of up to {BATCH} tokens"
    with open(os.path.join(fixtures, "build.txt"), "w") as f:
        f.write(f"llama-cpp-python {llama_cpp.__version__}, prompts evaluated {order}: {info}\n")

    json.dump(top_logits(llm, LOGITS_PROMPT), open(os.path.join(fixtures, "logits.json"), "w"))
    print(f"logits.json: top {LOGITS_TOP} logits at every position of {LOGITS_PROMPT!r}")

    text = open(os.path.join(texts, "tokenizer_text.txt"), encoding="utf-8", newline="").read()
    ids = llm.tokenize(text.encode("utf-8"), add_bos=llm._model.add_bos_token(), special=True)
    json.dump({"source": "tokenizer_text.txt", "ids": ids}, open(os.path.join(fixtures, "tokens.json"), "w"))
    print(f"tokens.json: {len(ids)} tokens")

    cases = []
    for prompt in prompts:
        prompt_ids = llm.tokenize(prompt.encode("utf-8"), add_bos=llm._model.add_bos_token(), special=True)
        cases.append({"prompt": prompt, "prompt_ids": prompt_ids, "generated": greedy(llm, prompt_ids)})
        print(f"greedy: {prompt[:40]!r} -> {len(cases[-1]['generated'])} tokens")
    json.dump({"max_tokens": GREEDY_TOKENS, "cases": cases}, open(os.path.join(fixtures, "greedy.json"), "w"), indent=1)

    ppl_text = open(os.path.join(texts, "perplexity_text.txt"), encoding="utf-8", newline="").read()
    del llm
    scorer = load(model, 2048, logits_all=True)
    tokens = scorer.tokenize(ppl_text.encode("utf-8"), add_bos=scorer._model.add_bos_token(), special=True)[:PPL_TOKENS]
    scorer.eval(tokens)
    nll = 0.0
    for i in range(len(tokens) - 1):
        row = scorer.scores[i].astype(np.float64)
        m = row.max()
        nll += math.log(np.exp(row - m).sum()) - (row[tokens[i + 1]] - m)
    nll /= len(tokens) - 1
    json.dump({"source": "perplexity_text.txt", "ctx": PPL_TOKENS, "tokens": len(tokens) - 1, "nll": nll, "ppl": math.exp(nll)},
              open(os.path.join(fixtures, "perplexity.json"), "w"), indent=1)
    print(f"perplexity.json: ppl {math.exp(nll):.4f} over {len(tokens) - 1} tokens")

    if "--bench" in sys.argv:
        del scorer
        llm = load(model, 4096)
        prompt = (tokens * 2)[:512]
        for rep in range(3):
            llm.reset()
            t0 = time.perf_counter(); llm.eval(prompt); t1 = time.perf_counter()
            token = prompt[-1]
            t2 = time.perf_counter()
            for _ in range(64):
                token = int(np.argmax(last_logits(llm)))
                llm.eval([token])
            t3 = time.perf_counter()
            print(f"llama.cpp run {rep}: prefill 512 tokens {512 / (t1 - t0):.1f} tokens/s, decode 64 tokens after 512 {64 / (t3 - t2):.1f} tokens/s")


if __name__ == "__main__":
    main()
