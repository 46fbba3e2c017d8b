#!/usr/bin/env python3
"""How many samples per task separate the full cache from a weak press (default random@0.5) on RULER.

    python3 scripts/ruler_sample_counts.py RESULTS.json [PRESS@RATIO]

RESULTS.json is a `tokenpress eval --suite ruler --json` file holding both configurations. For each task, with the
two observed mean scores p1 (full cache) and p0 (the press), prints both with their 95% Wilson intervals at the
observed n — the interval TokenPress's reports print — whether those are apart, and the smallest n at which they
would no longer overlap, or "cannot" when the full cache does not beat the press at all (the model cannot do the
task). The observed rates come from few samples themselves: read n as an order of size.
"""
import json
import math
import sys

Z = 1.959964


def wilson(p, n):
    denominator = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denominator
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def needed(p1, p0):
    if p1 <= p0:
        return None
    for n in range(1, 5001):
        if wilson(p0, n)[1] < wilson(p1, n)[0]:
            return n
    return None


def main():
    results = json.load(open(sys.argv[1]))["results"]
    press, ratio = (sys.argv[2].split("@") if len(sys.argv) > 2 else ["random", "0.5"])
    ratio = float(ratio)
    answers = results["answers"]
    print(f"| task | full cache [95%] | {press}@{ratio:g} [95%] | n observed | apart at this n | samples to separate |")
    print("| --- | ---: | ---: | ---: | :---: | ---: |")
    for task in results["plan"]["tasks"]:
        full = [a["score"] for a in answers if a["task"] == task and a["press"] == "none"]
        weak = [a["score"] for a in answers if a["task"] == task and a["press"] == press and a["ratio"] == ratio]
        if not full or not weak:
            continue
        p1, p0 = sum(full) / len(full), sum(weak) / len(weak)
        n = needed(p1, p0)
        high, low = wilson(p1, len(full)), wilson(p0, len(weak))
        apart = "yes" if low[1] < high[0] else "no"
        print(f"| {task} | {interval(p1, high)} | {interval(p0, low)} | {len(full)} | {apart} | "
              f"{n if n else 'cannot (full ≤ press)'} |")


def interval(p, bounds):
    return f"{100 * p:.0f}% [{100 * bounds[0]:.0f}–{100 * bounds[1]:.0f}]"


if __name__ == "__main__":
    main()
