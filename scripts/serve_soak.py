#!/usr/bin/env python3
"""A soak of `tokenpress serve` (default model): for `--minutes`, six clients send a mix of requests — streamed,
compressed (press, memory target, cache types), cancelled mid-stream, and malformed — and the server's RSS is
sampled every 10 s. Reports any error outside the malformed requests (which must each get a 4xx) and the RSS after
warm-up. Standard library only.

Usage: scripts/serve_soak.py [--minutes 10] [--binary .build/release/tokenpress] [--out docs/eval/server-soak]
"""
import argparse
import http.client
import json
import random
import socket
import threading
import time

import tokenpress_server






DOCUMENT = " ".join(f"Entry {i}: shipment {i * 7 % 101} left the harbour at dawn." for i in range(150))
MALFORMED = [b'{"messages": [', b"\xff\xfe{}", b'{"messages": "x"}', b'{"messages": [], "max_tokens": 4}',
             b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": -3}',
             b'{"messages": [{"role": "user", "content": "hi"}], "kv_compression": {"press": "bogus"}}',
             b'{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}', b"[1, 2, 3]"]


def request(port, body, stream=False, cancel_after=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    data = body if isinstance(body, bytes) else json.dumps(dict(body, stream=stream)).encode()
    connection.request("POST", "/v1/chat/completions", data, {"Content-Type": "application/json"})
    response = connection.getresponse()
    status = response.status
    if cancel_after is not None and status == 200:
        for _ in range(cancel_after):
            response.readline()
        connection.sock.shutdown(socket.SHUT_RDWR)
        connection.close()
        return status, "cancelled"
    text = response.read().decode(errors="replace")
    connection.close()
    if stream and status == 200 and '"error"' in text:
        return 500, text[:200]
    return status, text[:200]


def client(port, seed, deadline, counts, lock, failures):
    rng = random.Random(seed)
    while time.time() < deadline:
        kind = rng.choices(["stream", "compressed", "cancelled", "malformed", "plain"], [3, 3, 2, 2, 1])[0]
        question = f"What left the harbour in entry {rng.randrange(150)}?"
        body = {"messages": [{"role": "system", "content": DOCUMENT}, {"role": "user", "content": question}],
                "max_tokens": rng.choice([16, 32, 64]), "temperature": rng.choice([0, 0.7]), "seed": rng.randrange(999)}
        try:
            if kind == "malformed":
                status, text = request(port, rng.choice(MALFORMED))
                ok = 400 <= status < 500
            elif kind == "compressed":
                body["kv_compression"] = rng.choice([{"press": "snapkv", "ratio": 0.75}, {"kv_memory": "25%"},
                                                     {"cache_type_k": "q8_0", "cache_type_v": "q8_0"},
                                                     {"press": "streaming", "ratio": 0.5}])
                status, text = request(port, body, stream=rng.random() < 0.5)
                ok = status == 200
            elif kind == "cancelled":
                status, text = request(port, dict(body, max_tokens=400), stream=True, cancel_after=6)
                ok = status == 200
            else:
                status, text = request(port, body, stream=kind == "stream")
                ok = status == 200
        except Exception as error:  # noqa: BLE001 - every failure is counted
            status, text, ok = 0, repr(error), False
        with lock:
            counts[kind] = counts.get(kind, 0) + 1
            if not ok:
                failures.append((kind, status, text))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--binary", default=".build/release/tokenpress")
    parser.add_argument("--out", default="docs/eval/server-soak")
    args = parser.parse_args()
    process, port = tokenpress_server.start(args.binary, "--parallel", "4", "--kv-memory-total", "512MiB")
    counts, failures, samples = {}, [], []
    lock = threading.Lock()
    started = time.time()
    deadline = started + args.minutes * 60
    threads = [threading.Thread(target=client, args=(port, seed, deadline, counts, lock, failures))
               for seed in range(6)]
    for thread in threads:
        thread.start()
    while time.time() < deadline:
        samples.append((time.time() - started, tokenpress_server.memory_mib(process, "VmRSS")))
        time.sleep(10)
    for thread in threads:
        thread.join()
    samples.append((time.time() - started, tokenpress_server.memory_mib(process, "VmRSS")))
    health = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    health.request("GET", "/health")
    alive = health.getresponse().status == 200
    process.terminate()
    process.wait()
    warm = [rss for t, rss in samples if t >= 120] or [rss for _, rss in samples]
    report = {"minutes": args.minutes, "requests": counts, "failures": failures[:20], "failure_count": len(failures),
              "healthy_after": alive, "rss_samples": samples,
              "rss_after_warmup_mib": {"first": warm[0], "last": warm[-1], "min": min(warm), "max": max(warm)}}
    with open(args.out + ".json", "w") as file:
        json.dump(report, file, indent=1)
    lines = ["# `tokenpress serve` soak", "", f"Made by `scripts/serve_soak.py --minutes {args.minutes:g}`: six "
             "clients, default model, `--parallel 4 --kv-memory-total 512MiB`.", "",
             "| kind | requests |", "| --- | ---: |"]
    lines += [f"| {kind} | {count} |" for kind, count in sorted(counts.items())]
    w = report["rss_after_warmup_mib"]
    lines += ["", f"Failures outside the malformed requests' 4xx: **{len(failures)}**; `/health` after: "
              f"{'ok' if alive else 'DOWN'}.", "",
              f"RSS after the first 2 minutes: first {w['first']:.0f} MiB, last {w['last']:.0f} MiB, "
              f"min {w['min']:.0f}, max {w['max']:.0f} MiB.", ""]
    if failures:
        lines += ["First failures:", ""] + [f"- {k} {s}: {t}" for k, s, t in failures[:10]]
    with open(args.out + ".md", "w") as file:
        file.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
