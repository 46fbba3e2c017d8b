#!/usr/bin/env python3
"""Load on `tokenpress serve` (default model, loopback, bounded in count and time), standard library only:

1. generated tokens/s at 1, 4 and 8 concurrent streams (each stream: 3 requests of 128 tokens, `ignore_eos`, one
   after the other), p50/p99 time to first token and inter-token latency, errors, the server's peak RSS;
2. how many ~4k-token conversations the server runs at once within `--kv-memory-total 1GiB`, dense and compressed:
   48 are sent at once, the running count read from /metrics once admission has settled (then they are dropped by
   closing their connections), and one conversation of each kind is run to its end for its measured cache bytes.

Usage: scripts/serve_load.py [--binary .build/release/tokenpress] [--out docs/eval/server-load]
"""
import argparse
import http.client
import json
import threading
import time

import tokenpress_server
from tokenpress_server import memory_mib, metric, start








def stream(port, body, hold=None):
    """One streamed chat request: time to first token, gaps between content chunks, generated tokens, error."""
    result = {"ttft": None, "gaps": [], "tokens": 0, "error": None}
    body = dict(body, stream=True, stream_options={"include_usage": True})
    started = time.time()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    try:
        connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            result["error"] = f"{response.status}: {response.read()[:200]!r}"
            return result
        if hold is not None:
            hold.wait()
            return result
        last = None
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if "error" in event:
                result["error"] = event["error"]["message"]
            if event.get("usage"):
                result["tokens"] = event["usage"]["completion_tokens"]
            choices = event.get("choices") or []
            if choices and choices[0].get("delta", {}).get("content"):
                now = time.time()
                if last is None:
                    result["ttft"] = now - started
                else:
                    result["gaps"].append(now - last)
                last = now
    except Exception as error:  # noqa: BLE001 - every failure is counted
        result["error"] = repr(error)
    finally:
        connection.close()
    return result


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))] * 1000 if values else None


def throughput(binary, streams, requests_per_stream=3, max_tokens=128):
    process, port = start(binary, "--parallel", "8")
    try:
        stream(port, {"messages": [{"role": "user", "content": "Warm up."}], "max_tokens": 8})
        results = []
        lock = threading.Lock()

        def worker(index):
            for request in range(requests_per_stream):
                body = {"messages": [{"role": "user", "content": f"Tell story number {index * 10 + request} about "
                                                                    "a lighthouse keeper."}],
                        "max_tokens": max_tokens, "temperature": 0.8, "seed": index * 100 + request,
                        "ignore_eos": True}
                outcome = stream(port, body)
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
        started = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.time() - started
        tokens = sum(r["tokens"] for r in results)
        gaps = [g for r in results for g in r["gaps"]]
        ttfts = [r["ttft"] for r in results if r["ttft"] is not None]
        return {"streams": streams, "requests": len(results), "tokens": tokens, "seconds": wall,
                "tokens_per_second": tokens / wall, "errors": sum(r["error"] is not None for r in results),
                "ttft_p50_ms": percentile(ttfts, 0.5), "ttft_p99_ms": percentile(ttfts, 0.99),
                "itl_p50_ms": percentile(gaps, 0.5), "itl_p99_ms": percentile(gaps, 0.99),
                "largest_batch": metric(port, "decode_batch_size_max"), "peak_rss_mib": memory_mib(process)}
    finally:
        process.terminate()
        process.wait()


def conversation(seed, words=3000):
    text = " ".join(tokenpress_server.document(seed, words))
    return [{"role": "system", "content": text}, {"role": "user", "content": "Summarise this in one line."}]


def fit_in_budget(binary, name, compression, budget="1GiB", sent=48):
    process, port = start(binary, "--parallel", "64", "--kv-memory-total", budget, "--cache-ram", "0")
    try:
        body = {"messages": conversation(0), "max_tokens": 64, "temperature": 0}
        if compression:
            body["kv_compression"] = compression
        whole = stream(port, body)
        # One conversation to its end, for the bytes its cache really held.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        reply = json.loads(connection.getresponse().read())
        connection.close()
        hold = threading.Event()
        threads = []
        for index in range(sent):
            request = dict(body, messages=conversation(index + 1))
            thread = threading.Thread(target=stream, args=(port, request, hold))
            thread.start()
            threads.append(thread)
        time.sleep(5)
        running = metric(port, "requests_processing")
        waiting = metric(port, "requests_deferred")
        hold.set()  # the held connections close: their generations are cancelled
        for thread in threads:
            thread.join()
        return {"name": name, "sent": sent, "running": running, "waiting": waiting,
                "prompt_tokens": reply["usage"]["prompt_tokens"], "kv_bytes": reply["kv_cache"]["bytes"],
                "peak_bytes": reply["kv_cache"]["peak_bytes"], "dense_bytes": reply["kv_cache"]["dense_f16_bytes"],
                "first_error": whole["error"], "peak_rss_mib": memory_mib(process)}
    finally:
        process.terminate()
        process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=".build/release/tokenpress")
    parser.add_argument("--out", default="docs/eval/server-load")
    args = parser.parse_args()
    report = {"throughput": [], "fit": []}
    for streams in (1, 4, 8):
        row = throughput(args.binary, streams)
        print(json.dumps(row))
        report["throughput"].append(row)
    settings = [("dense f16", None), ("q8_0", {"cache_type_k": "q8_0", "cache_type_v": "q8_0"}),
                ("snapkv 0.75", {"press": "snapkv", "ratio": 0.75}), ("kv_memory 25%", {"kv_memory": "25%"})]
    for name, compression in settings:
        row = fit_in_budget(args.binary, name, compression)
        print(json.dumps(row))
        report["fit"].append(row)
    with open(args.out + ".json", "w") as file:
        json.dump(report, file, indent=1)
    write_markdown(report, args.out + ".md")


def write_markdown(report, path):
    single = report["throughput"][0]["tokens_per_second"]
    lines = ["# `tokenpress serve` under load (SmolLM2-135M-Instruct Q4_1)", "",
             "Made by `scripts/serve_load.py` on this 2-core machine, loopback, `--parallel 8`. Each stream sends 3 "
             "requests of 128 generated tokens (`ignore_eos`), one after the other.", "",
             "| streams | requests | tokens | wall s | tokens/s | × 1 stream | TTFT p50 / p99 ms | inter-token p50 / "
             "p99 ms | largest batch | errors | peak RSS MiB |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["throughput"]:
        lines.append(f"| {r['streams']} | {r['requests']} | {r['tokens']} | {r['seconds']:.1f} | "
                     f"{r['tokens_per_second']:.1f} | {r['tokens_per_second'] / single:.2f} | "
                     f"{r['ttft_p50_ms']:.0f} / {r['ttft_p99_ms']:.0f} | {r['itl_p50_ms']:.1f} / {r['itl_p99_ms']:.1f} | "
                     f"{r['largest_batch']:.0f} | {r['errors']} | {r['peak_rss_mib']:.0f} |")
    lines += ["", "## ~4k-token conversations at once within `--kv-memory-total 1GiB`", "",
              "48 sent at once (`--parallel 64`); running and waiting read from `/metrics` 5 s later. Bytes are one "
              "conversation run to its end (prompt + 64 generated tokens).", "",
              "| compression | running at once | waiting | prompt tokens | KV bytes after prompt (MiB) | peak (MiB) | "
              "dense f16 (MiB) |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["fit"]:
        lines.append(f"| {r['name']} | {r['running']:.0f} | {r['waiting']:.0f} | {r['prompt_tokens']} | "
                     f"{r['kv_bytes'] / 2**20:.1f} | {r['peak_bytes'] / 2**20:.1f} | {r['dense_bytes'] / 2**20:.1f} |")
    lines.append("")
    with open(path, "w") as file:
        file.write("\n".join(lines))


if __name__ == "__main__":
    main()
