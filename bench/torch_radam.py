"""torch.optim.RAdam as a peer for `npm run bench`, driven one JSON line at a time over stdin/stdout.

Usage: /usr/bin/python3 bench/torch_radam.py
First prints {"torch": version, "threads": torch.get_num_threads()} (or exits with an error when
torch does not import). Then, for each request line:
  {"op": "setup", "id": ID, "sizes": [n, ...], "foreach": bool, "warmup": k}
      float32 parameters of those sizes with fixed gradients, RAdam(lr=1e-3) stepped k times
      -> {"ok": true}
  {"op": "round", "id": ID, "samples": k, "budget_ms": b}
      one untimed step, then k timed steps (fewer past b ms, at least 3) -> {"ms": [...]}
  {"op": "drop", "id": ID} -> {"ok": true}
"""
import json
import sys
import time

import torch


def main() -> None:
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    opts = {}
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "setup":
            gen = torch.Generator().manual_seed(1)
            params = []
            for n in req["sizes"]:
                p = torch.nn.Parameter(torch.randn(n, dtype=torch.float32, generator=gen))
                p.grad = 0.1 * torch.randn(n, dtype=torch.float32, generator=gen)
                params.append(p)
            opt = torch.optim.RAdam(params, lr=1e-3, foreach=req["foreach"])
            for _ in range(req["warmup"]):
                opt.step()
            opts[req["id"]] = opt
            out = {"ok": True}
        elif op == "round":
            opt = opts[req["id"]]
            opt.step()
            times = []
            start = time.perf_counter()
            for _ in range(req["samples"]):
                t0 = time.perf_counter()
                opt.step()
                t1 = time.perf_counter()
                times.append((t1 - t0) * 1000)
                if (t1 - start) * 1000 > req["budget_ms"] and len(times) >= 3:
                    break
            out = {"ms": times}
        elif op == "drop":
            opts.pop(req["id"], None)
            out = {"ok": True}
        else:
            out = {"error": f"unknown op {op}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
