"""What the serve scripts share: starting `tokenpress serve` on a free port, reading its metrics and memory, and
making long plain documents. Imported by the scripts beside it (standard library only)."""
import http.client
import re
import socket
import subprocess
import threading


def start(binary, *options, port=0):
    """Starts `binary serve --port PORT OPTIONS` (0: a free port) and returns the process and the port it prints
    once listening."""
    process = subprocess.Popen([binary, "serve", "--port", str(port), *options], stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        match = re.search(r"on http://([\d.]+):(\d+)", line)
        if match:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, int(match.group(2))
    raise SystemExit("the server did not start")


def free_port():
    """A port nothing listens on now (the kernel's pick for port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metric(port, name):
    """The value of `tokenpress:NAME` in /metrics (None when absent)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    for line in text.splitlines():
        if line.startswith(f"tokenpress:{name} "):
            return float(line.split()[1])
    return None


def memory_mib(process, field="VmHWM"):
    """The process's peak (VmHWM) or current (VmRSS) resident memory in MiB, from /proc."""
    with open(f"/proc/{process.pid}/status") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def document(seed, words=2600):
    """Plain, varied filler of about `words` words (enough tokens that the KV cache dominates)."""
    subjects = ["The river", "A merchant", "The old bridge", "Our village", "The winter", "A traveller", "The library"]
    verbs = ["remembers", "carries", "outlasts", "welcomes", "reflects", "follows", "guards"]
    objects = ["the morning light", "a quiet song", "the long road", "every stranger", "the harvest", "old letters"]
    text, i = [], seed
    while sum(len(s.split()) for s in text) < words:
        text.append(f"{subjects[i % 7]} {verbs[(i * 3) % 7]} {objects[(i * 5) % 6]}.")
        i += 1
    return text
