#!/usr/bin/python3
"""deepsz.encode beside `dsz compress` on the same float32 array (default
100 MB), same bound and threads, in one run (docs/RESULTS.md, "Python").

    PYTHONPATH=build/python /usr/bin/python3 bench/python_encode.py \
        --dsz build/src/cli/dsz --mb 100 --abs 1e-3 --threads 2 --repeat 3

dsz is timed end to end (read the .f32 file, encode, write the .dsz: what a
user of the tool waits for); deepsz.encode from an array in memory to bytes,
and again with the bytes written to a file. Best of --repeat for each. The
two outputs must be the same container but for the creator key and the
tensor's name, so their sizes are printed too."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import deepsz


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dsz", default="build/src/cli/dsz")
    ap.add_argument("--mb", type=float, default=100.0)
    ap.add_argument("--abs", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    n = int(a.mb * 1e6) // 4
    r = np.random.default_rng(a.seed)
    # Weight-like values: Gaussian, a spread of scales (what the codec is for).
    data = (r.standard_normal(n) * np.repeat(r.uniform(0.01, 0.2, n // 4096 + 1), 4096)[:n]).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "data.f32")
        data.tofile(raw)
        out = os.path.join(tmp, "cli.dsz")
        cmd = [a.dsz, "compress", "--abs", repr(a.abs), "--threads", str(a.threads), raw, out]
        t_cli, _ = best(lambda: subprocess.run(cmd, check=True, capture_output=True), a.repeat)
        cli_bytes = os.path.getsize(out)
        t_py, blob = best(lambda: deepsz.encode(data, a.abs, threads=a.threads), a.repeat)

        def encode_and_write():
            b = deepsz.encode(data, a.abs, threads=a.threads)
            with open(os.path.join(tmp, "py.dsz"), "wb") as f:
                f.write(b)

        t_py_file, _ = best(encode_and_write, a.repeat)
        t_dec, back = best(lambda: deepsz.decode(blob, threads=a.threads), a.repeat)
    err = float(np.max(np.abs(back.astype(np.float64) - data.astype(np.float64))))
    if err > a.abs:
        sys.exit(f"bound broken: max error {err} > {a.abs}")
    mb = data.nbytes / 1e6
    print(f"{mb:.0f} MB float32, bound {a.abs:g}, {a.threads} threads, best of {a.repeat}\n")
    print("| | seconds | MB/s | bytes |")
    print("|---|---:|---:|---:|")
    print(f"| `dsz compress` (file to file) | {t_cli:.3f} | {mb / t_cli:.0f} | {cli_bytes} |")
    print(f"| `deepsz.encode` (array to bytes) | {t_py:.3f} | {mb / t_py:.0f} | {len(blob)} |")
    print(f"| `deepsz.encode` + write | {t_py_file:.3f} | {mb / t_py_file:.0f} | {len(blob)} |")
    print(f"| `deepsz.decode` (bytes to array) | {t_dec:.3f} | {mb / t_dec:.0f} | |")
    print(f"\ndeepsz.encode / dsz compress throughput: {t_cli / t_py:.3f} (array to bytes), "
          f"{t_cli / t_py_file:.3f} (with the write); max error {err:.3g}")


if __name__ == "__main__":
    main()
