#!/usr/bin/env python3
"""`tokenpress serve` through the official `openai` Python package: chat, streaming, completions, models,
`extra_body` compression and an error. Installs `openai` from PyPI into a temporary folder (nothing system-wide),
starts the server on a free port with the default model, prints what each call returned, exits 1 on any mismatch.

Usage: scripts/openai_client_check.py [--binary .build/release/tokenpress]
"""
import argparse
import subprocess
import sys
import tempfile

from tokenpress_server import start




def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=".build/release/tokenpress")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="openai-")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target",
                    folder, "openai>=1.40,<3"], check=True)
    sys.path.insert(0, folder)
    import openai
    from openai import OpenAI

    process, port = start(args.binary)
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    try:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none")
        print(f"openai {openai.__version__} against tokenpress on port {port}")
        models = client.models.list()
        check(len(models.data) == 1, f"models.list(): {models.data[0].id}")

        messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
        reply = client.chat.completions.create(model="smollm2", messages=messages, max_tokens=16, temperature=0)
        text = reply.choices[0].message.content
        check("Paris" in text, f"chat: {text!r} ({reply.usage.prompt_tokens} prompt, "
                               f"{reply.usage.completion_tokens} completion tokens)")

        pieces = []
        for chunk in client.chat.completions.create(model="smollm2", messages=messages, max_tokens=16,
                                                    temperature=0, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
        check("".join(pieces) == text, f"stream: {len(pieces)} chunks, same text as the whole answer")

        document = " ".join(f"Note {i}: the warehouse on Elm Street stores blue crates." for i in range(120))
        document += " The door code of the warehouse is 7319."
        asked = [{"role": "system", "content": document},
                 {"role": "user", "content": "What is the door code of the warehouse?"}]
        dense = client.chat.completions.create(model="smollm2", messages=asked, max_tokens=12, temperature=0)
        pressed = client.chat.completions.create(model="smollm2", messages=asked, max_tokens=12, temperature=0,
                                                 extra_body={"kv_compression": {"kv_memory": "25%"}})
        kv_dense, kv_pressed = dense.model_extra["kv_cache"], pressed.model_extra["kv_cache"]
        check(kv_pressed["bytes"] < kv_dense["bytes"] * 0.3,
              f"extra_body kv_memory 25%: {kv_pressed['bytes']} bytes against {kv_dense['bytes']} dense "
              f"({kv_pressed['applied']}); answer {pressed.choices[0].message.content!r}")
        again = client.chat.completions.create(
            model="smollm2", max_tokens=12, temperature=0, extra_body={"kv_compression": {"kv_memory": "25%"}},
            messages=asked[:1] + [{"role": "user", "content": "Which street is the warehouse on?"}])
        cached = again.usage.prompt_tokens_details.cached_tokens
        check(cached > 1000, f"second question on the compressed document: {cached} of "
                             f"{again.usage.prompt_tokens} prompt tokens cached; answer "
                             f"{again.choices[0].message.content!r}")

        completion = client.completions.create(model="smollm2", prompt="1, 2, 3, 4,", max_tokens=8, temperature=0)
        check(completion.choices[0].text.strip().startswith("5"), f"completions: {completion.choices[0].text!r}")

        try:
            client.chat.completions.create(model="smollm2", messages=messages, max_tokens=4,
                                           extra_body={"kv_compression": {"press": "nosuchpress"}})
            check(False, "an unknown press is refused")
        except openai.BadRequestError as error:
            check("nosuchpress" in str(error), f"unknown press: BadRequestError {error.status_code}: "
                                               f"{error.body['message'][:90]}")
    finally:
        process.terminate()
        process.wait()
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
