#!/usr/bin/env python3
"""Continue an optax-ts RAdam run in PyTorch or JAX: convert its checkpoint, and back.

optax-ts writes ``radam`` state as a safetensors file (``serializeState``/``saveState``): the tree
``[{count, mu, nu}, {}]`` (``[..., {count}]`` with a learning-rate schedule), tensors named by tree
path (``state[0].mu.layers[0].w``). This script converts it

* to ``torch.optim.RAdam``'s ``state_dict()`` (``torch.save`` file): parameter ``i`` is the
  ``i``-th leaf of the params tree in optax-ts order (arrays by index, object keys sorted, as JAX
  orders dict keys), with ``exp_avg`` = mu, ``exp_avg_sq`` = nu and ``step`` = count (a float32
  tensor, as torch 1.13 keeps it). Build the torch optimizer over your parameters in that order
  and call ``load_state_dict``;
* from such a ``state_dict`` back to an optax-ts checkpoint (``--like`` names a checkpoint of the
  same params, e.g. ``serializeState(tx.init(params))``, for the tree and dtypes), written as
  ``serializeState`` writes it, with its whole-file CRC-32;
* to optax's ``ScaleByAdamState`` layout for JAX, as a NumPy ``.npz`` (``count`` int32, ``mu/<i>``,
  ``nu/<i>``) plus ``<name>.treedef.json`` (the params tree with each leaf's index, the optax state
  structure and the load recipe); and from that layout back.

Loading the JAX layout (JAX is not needed to write it)::

    import json, numpy as np, jax, jax.numpy as jnp, optax
    z = np.load("opt.npz"); d = json.load(open("opt.treedef.json"))
    treedef = jax.tree_util.tree_structure(params)      # your params, the same tree
    n = d["num_leaves"]
    mu = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(z[f"mu/{i}"]) for i in range(n)])
    nu = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(z[f"nu/{i}"]) for i in range(n)])
    state = (optax.ScaleByAdamState(count=jnp.asarray(z["count"], jnp.int32), mu=mu, nu=nu),
             optax.EmptyState())          # optax.radam(lr) with a constant lr
    # with a schedule: (ScaleByAdamState(...), optax.ScaleByScheduleState(count=...)) instead

The leaves are flat (optax-ts stores each leaf as a 1-d array); reshape them to your params'
shapes (``.reshape(p.shape)``) if they are not 1-d. ``tree_unflatten`` needs ``params`` with the
same keys; ``treedef.json``'s ``params_tree`` shows which leaf index goes where.

Numerics: optax-ts computes RAdam as optax does. torch.optim.RAdam differs in two places
(see ``../shared/reference/NOTES.md`` in the project notes and ``golden_torch.py``): its eps is
added before the bias correction, and it rectifies when ``rho_t > 5`` (optax: ``>= 5``). With
``eps = 0`` (and ``epsRoot = 0``) they coincide; with eps > 0 a continued run follows torch's rule.

Usage (from the repository root)::

    /usr/bin/python3 scripts/convert_checkpoint.py to-torch opt.safetensors opt.pt [--lr 1e-3]
    /usr/bin/python3 scripts/convert_checkpoint.py from-torch opt.pt out.safetensors --like init.safetensors
    /usr/bin/python3 scripts/convert_checkpoint.py to-optax opt.safetensors opt.npz
    /usr/bin/python3 scripts/convert_checkpoint.py from-optax opt.npz out.safetensors --like init.safetensors
"""

import argparse
import json
import os
import re
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_checkpoint import read_checkpoint  # noqa: E402

IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*$")
NP_DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "BOOL": "?", "U8": "u1"}
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4,
         "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def join_path(path, key):
    """optax-ts's path syntax: ``[3]``, ``.key`` or ``["odd key"]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def leaf_paths(treedef, path="state"):
    """The leaf paths of a treedef (leaves written 0, null skipped) in optax-ts/JAX order."""
    if treedef is None:
        return []
    if isinstance(treedef, list):
        return [p for i, c in enumerate(treedef) for p in leaf_paths(c, join_path(path, i))]
    if isinstance(treedef, dict):
        return [p for k in sorted(treedef) for p in leaf_paths(treedef[k], join_path(path, k))]
    return [path]


def index_tree(treedef, counter):
    """The params tree with each leaf replaced by its index (for treedef.json)."""
    if treedef is None:
        return None
    if isinstance(treedef, list):
        return [index_tree(c, counter) for c in treedef]
    if isinstance(treedef, dict):
        return {k: index_tree(treedef[k], counter) for k in sorted(treedef)}
    counter[0] += 1
    return counter[0] - 1


class RadamCheckpoint:
    """An optax-ts radam checkpoint: its treedef, tensors and the leaves of mu and nu."""

    def __init__(self, path):
        metadata, tensors, crc_ok = read_checkpoint(path)
        if crc_ok is not True:
            raise SystemExit(f"{path}: the optax-ts checksum is missing or does not match")
        self.metadata = metadata
        self.tensors = tensors
        self.treedef = json.loads(metadata["optax_ts.treedef"])
        t = self.treedef
        if not (isinstance(t, list) and len(t) == 2 and isinstance(t[0], dict)
                and sorted(t[0]) == ["count", "mu", "nu"] and t[1] in ({}, {"count": 0})):
            raise SystemExit(f"{path}: not a radam state [{{count, mu, nu}}, {{}} or {{count}}]; "
                             f"its tree is {metadata['optax_ts.treedef']}")
        self.params_treedef = t[0]["mu"]
        self.mu_paths = leaf_paths(self.params_treedef, "state[0].mu")
        self.nu_paths = leaf_paths(self.params_treedef, "state[0].nu")
        self.scheduled = t[1] == {"count": 0}

    @property
    def count(self):
        return int(self.tensors["state[0].count"][1])

    def array(self, name):
        return self.tensors[name][1]


def write_checkpoint(path, like, values, count):
    """Writes a checkpoint with ``like``'s tree, names, dtypes and layout, as serializeState does:
    tensors by decreasing element size then in tree order, a whole-file CRC-32 (format 2)."""
    names = leaf_paths(like.treedef)
    entries = []
    for name in names:
        dtype = like.tensors[name][0]
        if name.endswith(".count") and name in ("state[0].count", "state[1].count"):
            if not 0 <= count <= 2**31 - 1:
                raise SystemExit(f"step count {count} is not an int32 step count")
            data = np.asarray(count, dtype="<i8").tobytes()
            shape = []
            dtype = "I64"
        else:
            want = like.array(name)
            got = np.asarray(values[name])
            if got.size != want.size:
                raise SystemExit(f"{name}: {got.size} elements, the params have {want.size}")
            data = got.reshape(-1).astype(NP_DTYPES[dtype]).tobytes()
            shape = [int(want.size)]
        entries.append((name, dtype, shape, data))
    entries.sort(key=lambda e: -SIZES[e[1]])  # stable: tree order within a size
    header = {}
    # As serializeState: the checksum first, then the metadata in the order it was written.
    meta = {"optax_ts.crc32": "00000000"}
    meta.update((k, v) for k, v in like.metadata.items() if k != "optax_ts.crc32")
    meta["optax_ts.format"] = "2"
    header["__metadata__"] = meta
    offset = 0
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    length = (8 + len(text) + 7) // 8 * 8 - 8
    out = bytearray(struct.pack("<Q", length) + text + b" " * (length - len(text)))
    for _, _, _, data in entries:
        out += data
    at = 8 + text.index(b'"optax_ts.crc32":"00000000"') + len(b'"optax_ts.crc32":"')
    out[at:at + 8] = format(zlib.crc32(bytes(out)) & 0xFFFFFFFF, "08x").encode()
    with open(path, "wb") as f:
        f.write(out)


def to_torch(src, dst, lr, betas):
    import torch

    ck = RadamCheckpoint(src)
    state = {}
    for i, (m, v) in enumerate(zip(ck.mu_paths, ck.nu_paths)):
        state[i] = {
            "step": torch.tensor(float(ck.count)),
            "exp_avg": torch.from_numpy(ck.array(m).copy()),
            "exp_avg_sq": torch.from_numpy(ck.array(v).copy()),
        }
    groups = [{"lr": lr, "betas": tuple(betas), "eps": 0.0, "weight_decay": 0, "foreach": False,
               "params": list(range(len(ck.mu_paths)))}]
    torch.save({"state": state, "param_groups": groups}, dst)
    return ck


def from_torch(src, dst, like_path):
    import torch

    like = RadamCheckpoint(like_path)
    sd = torch.load(src) if isinstance(src, str) else src
    n = len(like.mu_paths)
    if sorted(sd["state"]) != list(range(n)):
        raise SystemExit(f"the state_dict has parameters {sorted(sd['state'])}, the tree has {n} leaves")
    steps = {float(s["step"]) for s in sd["state"].values()}
    if len(steps) != 1:
        raise SystemExit(f"the parameters have different step counts {sorted(steps)}")
    count = int(steps.pop())
    values = {}
    for i in range(n):
        values[like.mu_paths[i]] = sd["state"][i]["exp_avg"].detach().cpu().numpy()
        values[like.nu_paths[i]] = sd["state"][i]["exp_avg_sq"].detach().cpu().numpy()
    write_checkpoint(dst, like, values, count)


def to_optax(src, dst):
    ck = RadamCheckpoint(src)
    arrays = {"count": np.asarray(ck.count, dtype=np.int32)}
    for i, (m, v) in enumerate(zip(ck.mu_paths, ck.nu_paths)):
        arrays[f"mu/{i}"] = ck.array(m)
        arrays[f"nu/{i}"] = ck.array(v)
    np.savez(dst, **arrays)
    description = {
        "format": "optax-ts radam state as optax.ScaleByAdamState leaves",
        "optax_state": "(ScaleByAdamState(count, mu, nu), ScaleByScheduleState(count))" if ck.scheduled
        else "(ScaleByAdamState(count, mu, nu), EmptyState())",
        "num_leaves": len(ck.mu_paths),
        "leaf_paths": [p[len("state[0].mu"):] for p in ck.mu_paths],
        "params_tree": index_tree(ck.params_treedef, [0]),
        "count_dtype": "int32",
        "load": "mu = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), "
                "[z[f'mu/{i}'] for i in range(num_leaves)]) (the same for nu); see the docstring of "
                "scripts/convert_checkpoint.py",
    }
    with open(treedef_path(dst), "w") as f:
        json.dump(description, f, indent=1)
    return description


def treedef_path(npz):
    return re.sub(r"\.npz$", "", npz) + ".treedef.json"


def unflatten(tree, leaves):
    """A pure-Python tree_unflatten of treedef.json's params_tree (what JAX does for dicts/lists)."""
    if tree is None:
        return None
    if isinstance(tree, list):
        return [unflatten(c, leaves) for c in tree]
    if isinstance(tree, dict):
        return {k: unflatten(tree[k], leaves) for k in sorted(tree)}
    return leaves[tree]


def from_optax(src, dst, like_path):
    like = RadamCheckpoint(like_path)
    z = np.load(src)
    n = len(like.mu_paths)
    values = {}
    for i in range(n):
        values[like.mu_paths[i]] = z[f"mu/{i}"]
        values[like.nu_paths[i]] = z[f"nu/{i}"]
    write_checkpoint(dst, like, values, int(z["count"]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["to-torch", "from-torch", "to-optax", "from-optax"])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--like", help="an optax-ts checkpoint of the same params (from-* commands)")
    ap.add_argument("--lr", type=float, default=1e-3, help="torch param_groups lr (to-torch)")
    ap.add_argument("--betas", type=float, nargs=2, default=[0.9, 0.999])
    a = ap.parse_args(argv)
    if a.command.startswith("from") and not a.like:
        ap.error(f"{a.command} needs --like")
    if a.command == "to-torch":
        to_torch(a.src, a.dst, a.lr, a.betas)
    elif a.command == "from-torch":
        from_torch(a.src, a.dst, a.like)
    elif a.command == "to-optax":
        to_optax(a.src, a.dst)
    else:
        from_optax(a.src, a.dst, a.like)


if __name__ == "__main__":
    main()
