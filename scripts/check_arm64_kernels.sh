#!/usr/bin/env bash
# Compiles the C kernels for arm64 Linux and arm64 macOS and checks that every function the headers
# declare is defined there too (the non-x86 build once lacked tp_scores_f16 and failed only at link time).
# The cross compiler is Zig's clang, fetched with pip from PyPI (`ziglang`) into a temporary folder:
# nothing is installed and no system state changes.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ZIG_GLOBAL_CACHE_DIR="$work/cache" ZIG_LOCAL_CACHE_DIR="$work/cache"

python3 -m pip download --quiet --no-deps --only-binary :all: --dest "$work" ziglang==0.17.1
python3 - "$work" <<'PY'
import glob, os, sys, zipfile
work = sys.argv[1]
with zipfile.ZipFile(glob.glob(os.path.join(work, "ziglang-*.whl"))[0]) as wheel:
    wheel.extractall(work, [n for n in wheel.namelist() if n.startswith("ziglang/")])
os.chmod(os.path.join(work, "ziglang", "zig"), 0o755)
PY

nm=$(command -v llvm-nm || command -v nm)
declared=$(grep -ohE '\btp_[a-z0-9_]+\(' Sources/CKernels/include/*.h | tr -d '(' | sort -u)
for target in aarch64-linux-gnu aarch64-macos; do
    for source in Sources/CKernels/*.c; do
        object="$work/$target-$(basename "$source" .c).o"
        "$work/ziglang/zig" cc -target "$target" -O2 -Wall -Werror -ISources/CKernels/include -c "$source" -o "$object"
    done
    # Mach-O symbols carry a leading underscore.
    defined=$("$nm" "$work/$target"-*.o | awk '$2 == "T" { sub(/^_/, "", $3); print $3 }' | sort -u)
    missing=$(comm -23 <(echo "$declared") <(echo "$defined"))
    if [ -n "$missing" ]; then
        echo "Error: the C kernels built for $target do not define: $(echo $missing)" >&2
        exit 1
    fi
    echo "C kernels for $target: $(echo "$declared" | wc -l) declared functions, all defined"
done
