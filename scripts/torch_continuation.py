#!/usr/bin/env python3
"""A float64 optax-ts RAdam run continued in torch.optim.RAdam; writes
``test/fixtures/torch_continuation.json``.

Run from the repository root (needs Node and the dev dependencies, and Debian's
``python3-torch python3-numpy``)::

    /usr/bin/python3 scripts/torch_continuation.py

1. Draws the problem (``numpy.random.RandomState(13)``): three float64 leaves ``layer.b``,
   ``layer.w`` and ``["odd key"]``, the quadratic loss ``0.5 * sum(a * (p - c)^2)`` of
   ``golden_torch.py`` (gradient ``a * (p - c)``, no zero gradients), ``radam(lr, eps = 0)``.
2. Runs ``K`` optax-ts steps and writes the checkpoint (``npx tsx scripts/continuation_checkpoint.ts``).
3. Converts it with ``convert_checkpoint.py to-torch``, loads it into ``torch.optim.RAdam(eps=0,
   foreach=False)`` over the params after ``K`` steps and runs ``M`` more steps, recording the
   params after each; converts torch's final ``state_dict`` back (``from-torch``).
4. Checks the round trips: to-torch then from-torch, and to-optax then from-optax, give back the
   optax-ts checkpoint byte for byte.

``test/torch_continuation.test.ts`` reruns step 2 (the checkpoint must be the recorded bytes),
continues in optax-ts and compares with torch's trajectory. With eps = 0 optax's and torch's rules
coincide (``golden_torch.py`` explains why); the remaining differences are rounding (torch uses
fused multiply-adds), a few 1e-16 relative.
"""

import base64
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_checkpoint as cc  # noqa: E402

K = 3
M = 40
LR = 0.05
BETAS = (0.9, 0.999)
SEED = 13
SHAPES = {".layer.b": 2, ".layer.w": 6, '["odd key"]': 3}
OUT = "test/fixtures/torch_continuation.json"


def problem():
    rs = np.random.RandomState(SEED)
    leaves = []
    for path, n in SHAPES.items():
        a = rs.uniform(0.5, 2.0, n)
        c = rs.uniform(-1.0, 1.0, n)
        p0 = rs.uniform(-2.0, 2.0, n)
        leaves.append({"path": path, "a": a.tolist(), "c": c.tolist(), "p0": p0.tolist()})
    return {"lr": LR, "b1": BETAS[0], "b2": BETAS[1], "leaves": leaves}


def node_version():
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def main():
    prob = problem()
    tmp = tempfile.mkdtemp(prefix="torch-continuation-")
    pfile = os.path.join(tmp, "problem.json")
    with open(pfile, "w") as f:
        json.dump(prob, f)
    out = subprocess.run(["npx", "tsx", "scripts/continuation_checkpoint.ts", pfile, str(K)],
                         capture_output=True, text=True, check=True).stdout
    started = json.loads(out)
    start_bytes = base64.b64decode(started["checkpoint"])
    start_file = os.path.join(tmp, "start.safetensors")
    with open(start_file, "wb") as f:
        f.write(start_bytes)

    # Torch: the params after K steps, in optax-ts leaf order (sorted keys), and the converted state.
    pt_file = os.path.join(tmp, "start.pt")
    ck = cc.to_torch(start_file, pt_file, LR, BETAS)
    paths = [p[len("state[0].mu"):] for p in ck.mu_paths]
    assert paths == [".layer.b", ".layer.w", '["odd key"]'], paths
    params = [torch.nn.Parameter(torch.tensor(started["params"][p], dtype=torch.float64)) for p in paths]
    a = [torch.tensor(next(l for l in prob["leaves"] if l["path"] == p)["a"], dtype=torch.float64) for p in paths]
    c = [torch.tensor(next(l for l in prob["leaves"] if l["path"] == p)["c"], dtype=torch.float64) for p in paths]
    opt = torch.optim.RAdam(params, lr=LR, betas=BETAS, eps=0.0, foreach=False)
    opt.load_state_dict(torch.load(pt_file))
    trajectory = []
    for _ in range(M):
        with torch.no_grad():
            for p, ai, ci in zip(params, a, c):
                p.grad = ai * (p - ci)
        opt.step()
        trajectory.append({path: p.detach().numpy().tolist() for path, p in zip(paths, params)})

    end_file = os.path.join(tmp, "end.safetensors")
    cc.from_torch(opt.state_dict(), end_file, start_file)
    with open(end_file, "rb") as f:
        end_bytes = f.read()

    # Round trips of the start checkpoint.
    back = os.path.join(tmp, "back.safetensors")
    cc.from_torch(pt_file, back, start_file)
    with open(back, "rb") as f:
        torch_round_trip = f.read() == start_bytes
    npz = os.path.join(tmp, "start.npz")
    description = cc.to_optax(start_file, npz)
    back2 = os.path.join(tmp, "back2.safetensors")
    cc.from_optax(npz, back2, start_file)
    with open(back2, "rb") as f:
        optax_round_trip = f.read() == start_bytes
    z = np.load(npz)
    mu_tree = cc.unflatten(description["params_tree"], [z[f"mu/{i}"] for i in range(description["num_leaves"])])
    assert torch_round_trip and optax_round_trip
    assert sorted(mu_tree) == ["layer", "odd key"]

    fixture = {
        "generator": "scripts/torch_continuation.py",
        "command": "/usr/bin/python3 scripts/torch_continuation.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "node": node_version(),
        "optax_ts_version": ck.metadata["optax_ts.version"],
        "torch_optimizer": f"torch.optim.RAdam(params, lr={LR}, betas={BETAS}, eps=0.0, foreach=False)",
        "optax_ts": f"radam({LR}, {{ b1: {BETAS[0]}, b2: {BETAS[1]}, eps: 0 }}), float64",
        "seed": SEED,
        "k": K,
        "m": M,
        "problem": prob,
        "start_checkpoint": started["checkpoint"],
        "params_at_k": started["params"],
        "torch_params": trajectory,
        "torch_end_checkpoint": base64.b64encode(end_bytes).decode(),
        "round_trip_torch_identical": torch_round_trip,
        "round_trip_optax_identical": optax_round_trip,
        "optax_treedef": description,
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {K} optax-ts steps, then {M} torch steps")


if __name__ == "__main__":
    main()
