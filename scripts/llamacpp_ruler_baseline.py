#!/usr/bin/env python3
"""The full cache's RULER scores from llama.cpp on the very samples `tokenpress eval --suite ruler` answered.

Run by hand, never in CI (it needs `python3 -m pip install llama-cpp-python==0.3.36`, a ~10-minute build):
    python3 scripts/llamacpp_ruler_baseline.py MODEL.gguf RESULTS.json SAMPLES_FOLDER OUT.json [TASK,TASK,...]

RESULTS.json is a `tokenpress eval --suite ruler --json` file; SAMPLES_FOLDER holds the RULER samples it read
(`~/.cache/tokenpress/ruler`). For every full-cache (`none`) answer of the tasks (default niah_single_1..3), the
same prompt is given to llama.cpp as TokenPress gives it (context, then question and answer prefix, tokenized
apart; no chat template), answered greedily with TokenPress's limits (RULER's tokens_to_generate, at most twice
the expected answer's tokens plus 16, stopping once every expected string is there) and scored as RULER scores
(string_match_all, case-insensitive). OUT.json gets every answer of both engines; a Markdown table goes to stdout.
"""
import glob
import json
import sys

import numpy as np
from llama_cpp import Llama, llama_token_is_eog


def score(answer, expected, match_any):
    found = [e for e in expected if e.lower() in answer.lower()]
    if match_any:
        return 1.0 if found else 0.0
    return len(found) / len(expected) if expected else 0.0


def main():
    model, results_path, folder, out = sys.argv[1:5]
    tasks = sys.argv[5].split(",") if len(sys.argv) > 5 else ["niah_single_1", "niah_single_2", "niah_single_3"]
    results = json.load(open(results_path))["results"]
    contexts = results["plan"]["contexts"]
    llm = Llama(model_path=model, n_ctx=max(contexts) + 256, n_batch=512, n_threads=2, flash_attn=False, verbose=False)
    vocab = llm._model.vocab
    rows = []
    for task in tasks:
        for context in contexts:
            files = sorted(glob.glob(f"{folder}/*-{task}-{context}-n*-seed*.jsonl"), key=len)
            if not files:
                sys.exit(f"no samples of {task} at {context} in {folder}")
            samples = {}
            for line in open(files[-1], encoding="utf-8"):
                s = json.loads(line)
                samples[s["index"]] = s
            mine = [a for a in results["answers"] if a["task"] == task and a["context"] == context and a["press"] == "none"
                    and a["mode"] == "agnostic"]
            for answer in sorted(mine, key=lambda a: a["sample"]):
                s = samples[answer["sample"]]
                raw = s["input"].encode("utf-8")
                context_part = raw[: s["question_start"]]
                question_part = raw[s["question_start"]:]
                tokens = llm.tokenize(context_part, add_bos=llm._model.add_bos_token(), special=True)
                tokens += llm.tokenize(question_part, add_bos=False, special=True)
                match_any = s["metric"] == "part"
                spelled = s["outputs"] if match_any else [", ".join(s["outputs"])]
                needed = max(len(llm.tokenize((" " + x).encode("utf-8"), add_bos=False, special=False)) for x in spelled)
                limit = min(s["tokens_to_generate"], 2 * needed + 16)
                llm.reset()
                llm.eval(tokens)
                generated, text = [], ""
                for _ in range(limit):
                    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
                    token = int(np.argmax(logits))
                    if llama_token_is_eog(vocab, token):
                        break
                    generated.append(token)
                    text = llm.detokenize(generated).decode("utf-8", errors="ignore")
                    if score(text, s["outputs"], match_any) >= 1:
                        break
                    llm.eval([token])
                rows.append({"task": task, "context": context, "sample": answer["sample"], "prompt_tokens": len(tokens),
                             "expected": s["outputs"], "llamacpp_answer": text, "llamacpp_score": score(text, s["outputs"], match_any),
                             "tokenpress_answer": answer["answer"], "tokenpress_score": answer["score"]})
                print(f"{task} #{answer['sample']}: llama.cpp {rows[-1]['llamacpp_score']:.2f}, tokenpress {answer['score']:.2f}",
                      file=sys.stderr)
    json.dump({"model": model, "build": "llama-cpp-python 0.3.36, built from source on this machine (AVX2, no AVX-512)",
               "rows": rows}, open(out, "w"), indent=1, ensure_ascii=False)
    print("| task | context | n | llama.cpp | TokenPress | identical answers |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for task in tasks:
        for context in contexts:
            cell = [r for r in rows if r["task"] == task and r["context"] == context]
            if not cell:
                continue
            same = sum(r["llamacpp_answer"] == r["tokenpress_answer"] for r in cell)
            mean = lambda key: 100 * sum(r[key] for r in cell) / len(cell)
            print(f"| {task} | {context} | {len(cell)} | {mean('llamacpp_score'):.0f}% | {mean('tokenpress_score'):.0f}% | "
                  f"{same}/{len(cell)} |")


if __name__ == "__main__":
    main()
