"""Float32 reference trajectories of optax's radam and adam, written in NumPy float32.

Writes test/fixtures/radam_float32_numpy.json. Run from the repository root:

    /usr/bin/python3 scripts/reference_float32.py

optax computes a float32 array in float32, one operation at a time, with each Python scalar taking
the array's dtype. This script does the same with NumPy: every array is float32 and every scalar is
wrapped in np.float32 before it meets an array, so each +, -, *, / and sqrt below is one float32
operation, correctly rounded. The per-step scalars (b1^t, b2^t, the bias corrections, rho_t, r_t)
are computed in Python floats (float64) and rounded to float32 where they enter array arithmetic,
which is what optax-ts specifies (optax itself computes b2^t in float32; see
/work/shared/reference/NOTES.md).

The formulas, from optax's definitions (scale_by_radam / scale_by_adam, add_decayed_weights,
scale_by_learning_rate, apply_updates):
    mu = (1 - b1) * g + b1 * mu ;  nu = (1 - b2) * (g * g) + b2 * nu
    mu_hat = mu / (1 - b1^t)    (Nesterov: b1 * (mu / (1 - b1^(t+1))) + (1 - b1) * (g / (1 - b1^t)))
    nu_hat = nu / (1 - b2^t)
    radam: if rho_t >= threshold: u = (r_t * mu_hat) / (sqrt(nu_hat + eps_root) + eps) else u = mu_hat
    adam:  u = mu_hat / (sqrt(nu_hat + eps_root) + eps)
    with weight decay: u = u + wd * p ; then u = u * (-lr) ; p = p + u
optax-ts's one documented difference is kept: where mu_hat is exactly 0 the ratio is 0 (optax gives
0/0 = NaN when eps = eps_root = 0).

Values are stored as the hex of their float32 bit patterns (exact, and Infinity/NaN survive JSON).
"""

import json
import math

import numpy as np

F = np.float32


def bits(a):
    return [format(int(x), "08x") for x in np.asarray(a, dtype=F).view(np.uint32)]


def run(case):
    rng = np.random.RandomState(case["seed"])
    n, steps = case["size"], case["steps"]
    b1, b2, eps, eps_root = case["b1"], case["b2"], case["eps"], case["eps_root"]
    lr, wd = case["lr"], case["weight_decay"]
    p = rng.standard_normal(n).astype(F)
    p0 = p.copy()
    grads = (rng.standard_normal((steps, n)) * case["grad_scale"]).astype(F)
    # Elements whose float32 arithmetic differs visibly from float64-then-round:
    grads[:, 0] = 0  # momentum stays exactly 0
    grads[:, 1] = F(1e20)  # g * g overflows float32 to Infinity (finite in float64)
    grads[:, 2] = F(3e-23)  # g * g underflows to a float32 subnormal
    grads[:, 3] = F(-1e-30)  # g * g underflows to 0 in float32
    mu = np.zeros(n, F)
    nu = np.zeros(n, F)
    params = []
    rho_inf = 2 / (1 - b2) - 1
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = grads[t - 1]
            mu = F(1 - b1) * g + F(b1) * mu
            nu = F(1 - b2) * (g * g) + F(b2) * nu
            bc1 = 1 - b1**t
            bc2 = 1 - b2**t
            if case["nesterov"]:
                mu_hat = F(b1) * (mu / F(1 - b1 ** (t + 1))) + F(1 - b1) * (g / F(bc1))
            else:
                mu_hat = mu / F(bc1)
            nu_hat = nu / F(bc2)
            den = np.sqrt(nu_hat + F(eps_root)) + F(eps)
            if case["kind"] == "adam":
                u = np.where(mu_hat == 0, mu_hat, (F(1) * mu_hat) / den)
            else:
                rho = rho_inf - 2 * t * b2**t / bc2
                if rho >= case["threshold"]:
                    r = 1.0
                    if rho != rho_inf:
                        r = math.sqrt(
                            (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
                        )
                    u = np.where(mu_hat == 0, mu_hat, (F(r) * mu_hat) / den)
                else:
                    u = mu_hat
            assert u.dtype == F and mu.dtype == F and nu.dtype == F
            if wd is not None:
                u = u + F(wd) * p
            u = u * F(-lr)
            p = p + u
            assert p.dtype == F
            params.append(bits(p))
    return {
        **case,
        "p0": bits(p0),
        "grads": [bits(g) for g in grads],
        "params": params,
        "mu": bits(mu),
        "nu": bits(nu),
    }


def base(**kw):
    case = {
        "kind": "radam",
        "seed": 0,
        "size": 41,
        "steps": 12,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-8,
        "eps_root": 0.0,
        "threshold": 5.0,
        "nesterov": False,
        "lr": 1e-3,
        "weight_decay": None,
        "grad_scale": 1.0,
    }
    case.update(kw)
    return case


CASES = [
    base(name="radam defaults"),
    base(name="radam nesterov, b2 0.99, eps_root", seed=1, b2=0.99, eps_root=1e-6, nesterov=True),
    base(name="radam eps 0, lr 0.3, weight decay", seed=2, eps=0.0, lr=0.3, weight_decay=1e-2),
    base(name="radam small gradients, b1 0.5", seed=3, b1=0.5, grad_scale=1e-4, steps=15),
    base(name="adam", kind="adam", seed=4, lr=1e-2),
    base(name="adam nesterov, weight decay", kind="adam", seed=5, nesterov=True, weight_decay=1e-3),
]


def main():
    out = {
        "generator": "scripts/reference_float32.py",
        "command": "/usr/bin/python3 scripts/reference_float32.py",
        "numpy": np.__version__,
        "dtype": "float32",
        "storage": "hex of float32 bit patterns; params[k] are the params after step k + 1",
        "cases": [run(c) for c in CASES],
    }
    with open("test/fixtures/radam_float32_numpy.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote test/fixtures/radam_float32_numpy.json ({len(CASES)} cases)")


if __name__ == "__main__":
    main()
