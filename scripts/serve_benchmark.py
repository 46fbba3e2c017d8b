#!/usr/bin/env python3
"""Measures `tokenpress serve` on the default model, each figure against its own baseline in the same run:

1. decode throughput of 4 concurrent requests with --parallel 4 (batched steps) against --parallel 1 (one at a time);
2. how many 4k-token documents run at once under --kv-memory-total, dense against compressed (snapkv at 0.75,
   q8_0 cache types, a 25% memory target), and the wall time of the four;
3. a second question about the same compressed document: time to the answer against the first question's.

Usage: scripts/serve_benchmark.py [--binary .build/release/tokenpress] [--out docs/eval/server]
Writes OUT.json and OUT.md. Standard library only.
"""
import argparse
import json
import threading
import time
import urllib.request

import tokenpress_server
from tokenpress_server import start




def post(port, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.load(response)




def concurrently(port, bodies):
    results = [None] * len(bodies)

    def run(index):
        results[index] = post(port, bodies[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.time() - started


def document(seed):
    # One fact per document, in the middle of plain filler.
    text = tokenpress_server.document(seed)
    text.insert(len(text) // 2, f"The secret number of this document is {1000 + seed * 37}.")
    return " ".join(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=".build/release/tokenpress")
    parser.add_argument("--out", default="docs/eval/server")
    args = parser.parse_args()
    report = {}

    # 1. Batched decode.
    prompts = ["Write a short poem about the sea.", "List five uses of copper.", "Explain what a compiler does.",
               "Describe a sunrise in the desert."]
    bodies = [{"messages": [{"role": "user", "content": p}], "max_tokens": 128, "temperature": 0,
               "stop": ["@@never@@"]} for p in prompts]
    throughput = {}
    for parallel in (1, 4):
        process, port = start(args.binary, "--parallel", str(parallel))
        try:
            post(port, bodies[0])  # warm-up
            results, seconds = concurrently(port, bodies)
            tokens = sum(r["usage"]["completion_tokens"] for r in results)
            throughput[parallel] = {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds,
                                    "largest_batch": tokenpress_server.metric(port, "decode_batch_size_max"),
                                    "texts": [r["choices"][0]["message"]["content"] for r in results]}
        finally:
            process.terminate()
            process.wait()
    same = throughput[1]["texts"] == throughput[4]["texts"]
    report["batched_decode"] = {"requests": 4, "max_tokens": 128, "parallel_1": throughput[1],
                                "parallel_4": throughput[4], "same_texts": same,
                                "speedup": throughput[4]["tokens_per_second"] / throughput[1]["tokens_per_second"]}
    print(json.dumps(report["batched_decode"], indent=1)[:800])

    # 2. Documents at once under a KV budget.
    budget = "200MiB"
    documents = [document(seed) for seed in range(4)]
    settings = {"dense": None, "snapkv@0.75": {"press": "snapkv", "ratio": 0.75},
                "q8_0": {"cache_type_k": "q8_0", "cache_type_v": "q8_0"}, "kv_memory 25%": {"kv_memory": "25%"}}
    budgets = {}
    for name, compression in settings.items():
        process, port = start(args.binary, "--parallel", "4", "--kv-memory-total", budget, "--cache-ram", "0")
        try:
            bodies = []
            for text in documents:
                body = {"messages": [{"role": "user", "content": text + "\n\nWhat is the secret number of this document?"}],
                        "max_tokens": 24, "temperature": 0}
                if compression:
                    body["kv_compression"] = compression
                bodies.append(body)
            results, seconds = concurrently(port, bodies)
            budgets[name] = {"seconds": seconds, "at_once": tokenpress_server.metric(port, "requests_processing_max"),
                             "prompt_tokens": [r["usage"]["prompt_tokens"] for r in results],
                             "kv_bytes": [r["kv_cache"]["bytes"] for r in results],
                             "dense_bytes": [r["kv_cache"]["dense_f16_bytes"] for r in results],
                             "answers_with_number": sum(str(1000 + i * 37) in r["choices"][0]["message"]["content"]
                                                        for i, r in enumerate(results))}
            print(name, {k: v for k, v in budgets[name].items() if k in ("seconds", "at_once", "answers_with_number")})
        finally:
            process.terminate()
            process.wait()
    report["kv_budget"] = {"budget": budget, "documents": 4, "settings": budgets}

    # 3. Compress once, ask twice.
    process, port = start(args.binary)
    try:
        system = {"role": "system", "content": documents[0]}
        compression = {"press": "snapkv", "ratio": 0.75}
        timings = []
        for question in ["What is the secret number of this document?", "What does the river do?"]:
            started = time.time()
            reply = post(port, {"messages": [system, {"role": "user", "content": question}], "max_tokens": 24,
                                "temperature": 0, "kv_compression": compression})
            timings.append({"seconds": time.time() - started,
                            "cached_tokens": reply["usage"]["prompt_tokens_details"]["cached_tokens"],
                            "prompt_tokens": reply["usage"]["prompt_tokens"], "prompt_ms": reply["timings"]["prompt_ms"],
                            "kv_bytes": reply["kv_cache"]["bytes"], "answer": reply["choices"][0]["message"]["content"]})
        report["reuse"] = {"compression": compression, "questions": timings,
                           "prompt_time_ratio": timings[0]["prompt_ms"] / timings[1]["prompt_ms"]}
        print(json.dumps(report["reuse"], indent=1)[:800])
    finally:
        process.terminate()
        process.wait()

    with open(args.out + ".json", "w") as file:
        json.dump(report, file, indent=1)
    write_markdown(report, args.out + ".md")


def write_markdown(report, path):
    b = report["batched_decode"]
    lines = ["# `tokenpress serve` on SmolLM2-135M-Instruct Q4_1", "",
             "Made by `scripts/serve_benchmark.py` (this machine: 2 cores; every ratio is against the baseline "
             "measured in the same run).", "",
             "## Batched decode: 4 concurrent requests, 128 tokens each, greedy", "",
             "| server | tokens | wall s | tokens/s | largest batch |", "| --- | ---: | ---: | ---: | ---: |"]
    for key, label in (("parallel_1", "--parallel 1 (one at a time)"), ("parallel_4", "--parallel 4 (batched)")):
        r = b[key]
        lines.append(f"| {label} | {r['tokens']} | {r['seconds']:.2f} | {r['tokens_per_second']:.1f} | "
                     f"{r['largest_batch']:.0f} |")
    lines += ["", f"Aggregate speed-up {b['speedup']:.2f}×; the four answers are "
              f"{'identical' if b['same_texts'] else 'NOT identical'} to the one-at-a-time ones.", "",
              f"## Four ~3.5k-token documents under `--kv-memory-total {report['kv_budget']['budget']}`", "",
              "| compression | at once | wall s | KV bytes per request (MiB) | dense f16 (MiB) | found the number |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in report["kv_budget"]["settings"].items():
        kv = sum(r["kv_bytes"]) / len(r["kv_bytes"]) / 2**20
        dense = sum(r["dense_bytes"]) / len(r["dense_bytes"]) / 2**20
        lines.append(f"| {name} | {r['at_once']:.0f} | {r['seconds']:.1f} | {kv:.1f} | {dense:.1f} | "
                     f"{r['answers_with_number']}/4 |")
    reuse = report["reuse"]
    q1, q2 = reuse["questions"]
    lines += ["", "## Compress once, ask twice (snapkv at 0.75, document in the system message)", "",
              "| question | prompt tokens | cached | prompt ms | wall s |", "| --- | ---: | ---: | ---: | ---: |",
              f"| first | {q1['prompt_tokens']} | {q1['cached_tokens']} | {q1['prompt_ms']:.0f} | {q1['seconds']:.2f} |",
              f"| second | {q2['prompt_tokens']} | {q2['cached_tokens']} | {q2['prompt_ms']:.0f} | {q2['seconds']:.2f} |",
              "", f"Reading the second prompt took 1/{reuse['prompt_time_ratio']:.0f} of the first's time.", ""]
    with open(path, "w") as file:
        file.write("\n".join(lines))


if __name__ == "__main__":
    main()
