#!/usr/bin/env python3
"""Two `tokenpress serve` replicas behind nginx with `deploy/nginx.conf`, on loopback: conversations (one document,
several questions) are sent through nginx while one replica is stopped (SIGTERM), started again, and killed (SIGKILL).
Shows that every request is answered, that a conversation stays on one replica while it is up (so the questions after
the first read the document from that replica's prefix cache), and where conversations go when it is not.

Needs Debian's nginx (`apt-get install nginx-light`); this script installs nothing. Standard library only.

Usage: scripts/serve_replicas.py [--binary .build/release/tokenpress] [--conversations 8] [--questions 3]
                                 [--out docs/eval/server-replicas]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import tokenpress_server

CONFIG = os.path.join(os.path.dirname(__file__), "..", "deploy", "nginx.conf")
QUESTIONS = ["What does the river remember?", "Who guards the old letters?", "What welcomes every stranger?",
             "What carries the harvest?"]


def start_nginx(folder, listen, replicas):
    """nginx on `listen` with deploy/nginx.conf, its replica ports replaced and its files kept in `folder`."""
    text = open(CONFIG).read()
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("127.0.0.1:8081", f"127.0.0.1:{replicas[0]}").replace("127.0.0.1:8082", f"127.0.0.1:{replicas[1]}")
    # Temporary files in the run's folder rather than the system's.
    temporary = "".join(f"    {kind}_temp_path {folder}/{kind};\n"
                        for kind in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"])
    text = text.replace("http {\n", "http {\n" + temporary, 1)
    path = os.path.join(folder, "nginx.conf")
    with open(path, "w") as file:
        file.write(text)
    os.chmod(folder, 0o755)
    # Run as root, nginx's workers would otherwise switch to a user that cannot read the run's folder.
    workers = " user root;" if os.geteuid() == 0 else ""
    command = [nginx_binary(), "-p", folder, "-c", path, "-e", f"{folder}/error.log",
               "-g", f"daemon off; pid {folder}/nginx.pid;{workers}"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", listen, timeout=1).connect()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("nginx did not start: " + process.stderr.read().strip())
            time.sleep(0.1)
    raise SystemExit("nginx did not start listening")


def nginx_binary():
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise SystemExit("nginx not found: install Debian's nginx-light (apt-get install nginx-light)")
    return found


def ask(port, conversation, question, stream):
    """One question on a conversation's document through nginx: (ok, replica, cached tokens, detail)."""
    body = {"messages": [{"role": "system", "content": conversation["document"]},
                         {"role": "user", "content": question}],
            "max_tokens": 12, "temperature": 0, "stream": stream}
    if conversation["compressed"]:
        body["kv_compression"] = {"press": "snapkv", "ratio": 0.5}
    if stream:
        body["stream_options"] = {"include_usage": True}
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        replica = response.getheader("X-TokenPress-Replica", "?").split(",")[-1].strip()
        connection.close()
    except (OSError, http.client.HTTPException) as error:
        return False, "?", 0, f"{type(error).__name__}: {error}"
    if response.status != 200:
        return False, replica, 0, f"HTTP {response.status}: {text[:160]}"
    usage = usage_of(text, stream)
    if usage is None:
        return False, replica, 0, "no usage in the answer (cut short?)"
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    return True, replica, cached, ""


def usage_of(text, stream):
    if not stream:
        return json.loads(text).get("usage")
    if "data: [DONE]" not in text:
        return None
    for line in text.splitlines():
        if line.startswith("data: {") and '"usage"' in line:
            usage = json.loads(line[6:]).get("usage")
            if usage:
                return usage
    return None


def run_phase(port, conversations, questions, during=None):
    """Every conversation asks its questions in order, four conversations at a time; `during` runs once the first
    answers are back. Returns the answers as (conversation, question, ok, replica, cached, detail)."""
    answers, lock = [], threading.Lock()
    started = threading.Event()

    def converse(index):
        for number in range(questions):
            stream = (index + number) % 2 == 1
            ok, replica, cached, detail = ask(port, conversations[index], QUESTIONS[number % len(QUESTIONS)], stream)
            detail = f"{'streamed' if stream else 'whole'}: {detail}" if detail else detail
            with lock:
                answers.append((index, number, ok, replica, cached, detail))
                if len(answers) >= 4:
                    started.set()

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(converse, index) for index in range(len(conversations))]
        if during:
            started.wait(timeout=300)
            during()
        for future in futures:
            future.result()
    return answers


def summary(name, answers, names):
    ok = sum(1 for answer in answers if answer[2])
    per_replica = {}
    for _, _, good, replica, _, _ in answers:
        if good:
            label = names.get(replica, replica)
            per_replica[label] = per_replica.get(label, 0) + 1
    conversations = {}
    for index, _, good, replica, _, _ in answers:
        if good:
            conversations.setdefault(index, set()).add(names.get(replica, replica))
    later = [answer for answer in answers if answer[1] > 0 and answer[2]]
    reused = sum(1 for answer in later if answer[4] > 0)
    failures = [f"conversation {a[0]} question {a[1]}: {a[5]}" for a in answers if not a[2]]
    return {"phase": name, "requests": len(answers), "answered": ok, "failed": len(answers) - ok,
            "by_replica": per_replica, "conversations_on_one_replica": sum(1 for s in conversations.values() if len(s) == 1),
            "conversations": len(conversations), "later_questions": len(later), "later_questions_reusing_cache": reused,
            "failures": failures}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=".build/release/tokenpress")
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--words", type=int, default=500, help="words in each conversation's document")
    parser.add_argument("--out", default="docs/eval/server-replicas")
    args = parser.parse_args()
    nginx_binary()
    folder = tempfile.mkdtemp(prefix="tokenpress-replicas-")
    ports = [tokenpress_server.free_port(), tokenpress_server.free_port()]
    listen = tokenpress_server.free_port()
    names = {f"127.0.0.1:{ports[0]}": "A", f"127.0.0.1:{ports[1]}": "B"}
    conversations = [{"document": " ".join(tokenpress_server.document(seed * 11, words=args.words)),
                      "compressed": seed % 2 == 1} for seed in range(args.conversations)]
    phases, replicas, nginx = [], [], None
    try:
        replicas = [tokenpress_server.start(args.binary, "--parallel", "2", port=port)[0] for port in ports]
        nginx = start_nginx(folder, listen, ports)
        began = time.time()
        phases.append(summary("both replicas up", run_phase(listen, conversations, args.questions), names))
        phases.append(summary("B stopped (SIGTERM) while answering", run_phase(
            listen, conversations, args.questions, during=lambda: replicas[1].send_signal(signal.SIGTERM)), names))
        replicas[1].wait(timeout=120)
        replicas[1] = tokenpress_server.start(args.binary, "--parallel", "2", port=ports[1])[0]
        time.sleep(11)  # nginx's fail_timeout: B is tried again after it
        phases.append(summary("B started again", run_phase(listen, conversations, args.questions), names))
        phases.append(summary("B killed (SIGKILL) while answering", run_phase(
            listen, conversations, args.questions, during=lambda: replicas[1].kill()), names))
        elapsed = time.time() - began
    finally:
        if nginx:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=30)
        for process in replicas:
            if process.poll() is None:
                process.terminate()
    report(args, phases, elapsed)


def report(args, phases, elapsed):
    lines = ["# Two replicas behind nginx", "",
             f"`python3 scripts/serve_replicas.py --conversations {args.conversations} --questions {args.questions}` "
             f"— nginx with `deploy/nginx.conf`, two `tokenpress serve --parallel 2` replicas (A, B) on loopback, "
             f"{args.conversations} conversations (a ~{args.words}-word document as the system message, every other "
             f"one compressed with snapkv 0.5; every other request streamed), four at a time; {elapsed:.0f} s in all.",
             "", "| phase | requests | answered | failed | answered by | conversations on one replica | "
             "later questions reading the cached document |", "| --- | ---: | ---: | ---: | --- | ---: | ---: |"]
    for phase in phases:
        by = ", ".join(f"{name} {count}" for name, count in sorted(phase["by_replica"].items()))
        lines.append(f"| {phase['phase']} | {phase['requests']} | {phase['answered']} | {phase['failed']} | {by} | "
                     f"{phase['conversations_on_one_replica']} of {phase['conversations']} | "
                     f"{phase['later_questions_reusing_cache']} of {phase['later_questions']} |")
    failures = [f"{phase['phase']}: {failure}" for phase in phases for failure in phase["failures"]]
    lines += ["", "Failures: " + ("none." if not failures else "")] + [f"- {failure}" for failure in failures]
    lines += ["", "A conversation is routed by the start of its first message, so its later questions read the document "
              "from the replica that compressed it. A replica stopped with SIGTERM finishes what it is answering and "
              "refuses new connections, which nginx sends to the other replica: nothing fails. A replica killed "
              "(SIGKILL) loses what it was answering: nginx resends a request whose answer had not started, but a "
              "stream already under way cannot be resent, and its client sees it cut short. A conversation that moved "
              "is compressed again on its new replica once, then reused there."]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out + ".md", "w") as file:
        file.write(text)
    with open(args.out + ".json", "w") as file:
        json.dump({"phases": phases, "seconds": elapsed}, file, indent=1)


if __name__ == "__main__":
    main()
