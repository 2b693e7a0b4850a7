"""Times one torch.optim.RAdam step (foreach on and off) for the sizes given on the command line.

Usage: python3 bench/torch_radam.py SIZE[,SIZE...] REPS_SMALL REPS_LARGE
Prints one JSON object: {"torch": version, "threads": n, "results": [{size, foreach, ms}]}.
"""
import json
import sys
import time

import torch


def main() -> None:
    sizes = [int(float(s)) for s in sys.argv[1].split(",")]
    reps_small, reps_large = int(sys.argv[2]), int(sys.argv[3])
    out = []
    for n in sizes:
        reps = reps_large if n >= 5_000_000 else reps_small
        for foreach in (True, False):
            p = torch.nn.Parameter(torch.randn(n, dtype=torch.float32))
            p.grad = torch.randn(n, dtype=torch.float32)
            opt = torch.optim.RAdam([p], lr=1e-3, foreach=foreach)
            for _ in range(3):
                opt.step()
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                opt.step()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out.append({"size": n, "foreach": foreach, "ms": times[len(times) // 2]})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": out}))


if __name__ == "__main__":
    main()
