#!/usr/bin/env python3
"""Dequantization fixtures for TokenPress's kernel tests, from the reference implementation in the
PyPI package `gguf` (gguf.quants.dequantize). Run by hand; the output is committed:
    python3 -m pip install gguf
    python3 scripts/make_dequant_fixtures.py Tests/KernelsTests/Fixtures/dequantize.json
Random block bytes, with every f16 scale field set to a finite random value, for each supported type.
"""
import base64
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

# type: (block bytes, offsets of f16 scale fields)
LAYOUTS = {
    T.F16: (2, []), T.BF16: (2, []), T.F32: (4, []),
    T.Q4_0: (18, [0]), T.Q4_1: (20, [0, 2]), T.Q5_0: (22, [0]), T.Q5_1: (24, [0, 2]), T.Q8_0: (34, [0]),
    T.Q2_K: (84, [80, 82]), T.Q3_K: (110, [108]), T.Q4_K: (144, [0, 2]), T.Q5_K: (176, [0, 2]), T.Q6_K: (210, [208]),
}
BLOCKS = 4

def main():
    rng = np.random.default_rng(20261123)
    cases = []
    for t, (size, scale_offsets) in LAYOUTS.items():
        if t in (T.F16, T.BF16, T.F32):
            count = 64
            values = rng.standard_normal(count).astype(np.float32)
            raw = {T.F16: values.astype(np.float16).tobytes(), T.F32: values.tobytes(),
                   T.BF16: (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()}[t]
        else:
            blocks = bytearray(rng.integers(0, 256, size * BLOCKS, dtype=np.uint8).tobytes())
            for b in range(BLOCKS):
                for off in scale_offsets:
                    blocks[b * size + off: b * size + off + 2] = np.float16(rng.uniform(-0.1, 0.1)).tobytes()
            raw = bytes(blocks)
        out = dequantize(np.frombuffer(raw, dtype=np.uint8), t).astype(np.float32).reshape(-1)
        cases.append({"type": t.name, "typeID": int(t), "data": base64.b64encode(raw).decode(),
                      "values": [float(v) for v in out]})
    json.dump({"source": "gguf.quants.dequantize", "cases": cases}, open(sys.argv[1], "w"))
    print(f"{len(cases)} types written to {sys.argv[1]}")

if __name__ == "__main__":
    main()
