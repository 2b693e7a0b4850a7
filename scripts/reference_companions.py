"""Independent float64 NumPy reference for RAdam and the transformations it is
most often combined with; writes ``test/fixtures/companions_reference.json``.

Run from the repository root:

    /usr/bin/python3 scripts/reference_companions.py

Everything here is written from the mathematical definitions in optax's
documentation, evaluated elementwise in IEEE float64 with NumPy. No JAX or optax
is needed.

RAdam direction (optax ``scale_by_radam``), per step with ``t = count + 1``
(``count`` = number of earlier updates, so ``t = 1`` on the first update)::

    mu      = b1 * mu + (1 - b1) * g
    nu      = b2 * nu + (1 - b2) * g^2
    mu_hat  = mu / (1 - b1^t)
    nu_hat  = nu / (1 - b2^t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t   = rho_inf - 2 t b2^t / (1 - b2^t)
    r_t     = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    direction = r_t * mu_hat / (sqrt(nu_hat + eps_root) + eps)   if rho_t >= threshold
              = mu_hat                                           otherwise

(``eps`` outside the square root, ``eps_root`` inside; the momentum branch uses
neither.) ``scale_by_learning_rate(lr)`` multiplies the direction by ``-lr`` and
``apply_updates`` adds the result to the parameters.

Cases written to the fixture
----------------------------
``radam_decoupled_weight_decay``
    optax ``chain(scale_by_radam(...), add_decayed_weights(wd),
    scale_by_learning_rate(lr))``: ``p <- p + (-lr) * (direction(g) + wd * p)``.
    The decay is added *after* the RAdam direction (AdamW-style, "decoupled"), so
    it never enters mu or nu. Elements with a zero gradient still decay.

``radam_linear_warmup``
    optax ``radam(linear_schedule(init_value, end_value=lr, transition_steps=W))``.
    ``linear_schedule`` is ``polynomial_schedule`` with power 1::

        k    = clip(count, 0, W)               # transition_begin = 0
        frac = 1 - k / W
        lr_count = (init_value - end_value) * frac**1 + end_value

    The schedule is called with its own step count *before* that count is
    incremented, so the update producing params after step ``s`` (1-based) uses
    ``lr_count`` at ``count = s - 1``; with ``init_value = 0`` the first update
    is exactly zero (the moments still advance). RAdam's own ``t`` is ``s``.

``lookahead_radam``
    optax ``lookahead(radam(lr, ...), sync_period=k, slow_step_size=alpha,
    reset_state=False)`` with params ``LookaheadParams.init_synced(p0)``
    (fast = slow = p0). Convention (from optax's ``lookahead`` source and
    docstring): the state counts ``steps_since_sync``, starting at 0; an update is
    a synchronisation step when ``steps_since_sync == k - 1`` before the update,
    i.e. the updates numbered ``k, 2k, 3k, ...`` (1-based) synchronise, the first
    one after exactly ``k`` fast-optimizer steps. Gradients are always taken at
    the FAST params. Every update runs the fast optimizer (its count keeps growing
    across syncs because reset_state=False) giving ``u``; then

        not a sync step:  fast <- fast + u,  slow unchanged
        sync step:        last = fast + u
                          slow <- slow + alpha * (last - slow)
                          fast <- slow (the new slow params)

    This reference stores the mathematical result (fast equal to the new slow
    params bit for bit). optax itself returns merged updates
    ``fast_update = u - (1 - alpha) * (fast + u - slow)`` that ``apply_updates``
    adds to ``fast``, so after a sync optax's fast params equal its slow params
    only up to float rounding (a few ulps); the slow params are computed the
    same way in both.

Gradient scheme (shared with ``golden_torch.py``): loss
``0.5 * sum(a * (p - c)^2)`` with fixed per-element ``a >= 0`` and ``c``, so
``g = a * (p - c)`` (one subtraction then one multiplication per element in
float64, which JavaScript reproduces exactly). Elements with ``a == 0`` have an
exactly zero gradient forever.

Fixture layout: see ``scripts/README.md``.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "test", "fixtures", "companions_reference.json")
COMMAND = "/usr/bin/python3 scripts/reference_companions.py"

DENSE_STEPS = 20  # store every step 1..DENSE_STEPS
STRIDE = 10  # then every STRIDE-th step, plus the last one


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


def stored_steps(steps: int) -> list[int]:
    """1-based step indices whose params are stored in the fixtures."""
    idx = list(range(1, min(DENSE_STEPS, steps) + 1))
    idx += [s for s in range(DENSE_STEPS + STRIDE, steps + 1, STRIDE)]
    if idx[-1] != steps:
        idx.append(steps)
    return idx


def quadratic_grad(p: np.ndarray, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Gradient of 0.5*sum(a*(p-c)^2): (p - c) first, then times a."""
    return a * (p - c)


def make_problem(seed: int, size: int, n_zero: int = 0):
    """Per-element curvature a (log-uniform in [0.1, 10]), centre c, start p0.

    ``n_zero`` elements (chosen at random) get ``a = 0``: an exactly zero
    gradient at every step.
    """
    rs = np.random.RandomState(seed)
    a = np.exp(rs.uniform(math.log(0.1), math.log(10.0), size))
    c = rs.normal(0.0, 1.0, size)
    p0 = rs.normal(0.0, 1.5, size)
    if n_zero:
        a[rs.choice(size, n_zero, replace=False)] = 0.0
    return a, c, p0


class RadamDirection:
    """optax scale_by_radam (no Nesterov) in float64, from the formulas above."""

    def __init__(self, size, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, reorder=False):
        # reorder=True evaluates the same formulas with a different (mathematically
        # equal) operation order; only used to measure how rounding noise grows.
        self.reorder = reorder
        self.b1, self.b2 = float(b1), float(b2)
        self.eps, self.eps_root, self.threshold = float(eps), float(eps_root), float(threshold)
        self.count = 0
        self.mu = np.zeros(size)
        self.nu = np.zeros(size)

    def rho(self, t: int) -> float:
        b2 = self.b2
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        return rho_inf - 2.0 * t * b2**t / (1.0 - b2**t)

    def __call__(self, g: np.ndarray) -> np.ndarray:
        b1, b2 = self.b1, self.b2
        t = self.count + 1
        self.mu = b1 * self.mu + (1.0 - b1) * g
        if self.reorder:
            self.nu = b2 * self.nu + ((1.0 - b2) * g) * g
        else:
            self.nu = b2 * self.nu + (1.0 - b2) * (g * g)
        self.count = t
        if self.reorder:
            mu_hat = self.mu * (1.0 / (1.0 - b1**t))
        else:
            mu_hat = self.mu / (1.0 - b1**t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = self.rho(t)
        if rho_t >= self.threshold:
            nu_hat = self.nu / (1.0 - b2**t)
            r_t = math.sqrt(
                (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            )
            if self.reorder:
                return mu_hat * (r_t / (np.sqrt(nu_hat + self.eps_root) + self.eps))
            return r_t * mu_hat / (np.sqrt(nu_hat + self.eps_root) + self.eps)
        return mu_hat


def linear_schedule(init_value: float, end_value: float, transition_steps: int):
    """optax linear_schedule == polynomial_schedule(power=1), transition_begin=0."""

    def value(count: int) -> float:
        k = min(max(count, 0), transition_steps)
        frac = 1.0 - k / transition_steps
        return (init_value - end_value) * frac**1 + end_value

    return value


# ---------------------------------------------------------------------------
# Trajectories (each returns {step: params} for every step 1..steps)
# ---------------------------------------------------------------------------


def radam_trajectory(p0, a, c, lr, steps, l2=0.0, **radam_kw):
    """Plain optax radam(lr); ``l2`` > 0 adds l2*p to the gradient before RAdam
    (optax chain(add_decayed_weights(l2), scale_by_radam(), scale_by_learning_rate(lr)),
    the torch.optim.RAdam weight_decay convention)."""
    p = np.array(p0, dtype=np.float64)
    d = RadamDirection(p.size, **radam_kw)
    out = []
    for _ in range(steps):
        g = quadratic_grad(p, a, c)
        if l2:
            g = g + l2 * p
        p = p + (-lr) * d(g)
        out.append(p.copy())
    return out


def decoupled_wd_trajectory(p0, a, c, lr, wd, steps, **radam_kw):
    p = np.array(p0, dtype=np.float64)
    d = RadamDirection(p.size, **radam_kw)
    out = []
    for _ in range(steps):
        g = quadratic_grad(p, a, c)
        u = d(g) + wd * p
        p = p + (-lr) * u
        out.append(p.copy())
    return out


def warmup_trajectory(p0, a, c, schedule, steps, **radam_kw):
    p = np.array(p0, dtype=np.float64)
    d = RadamDirection(p.size, **radam_kw)
    out, lrs = [], []
    for count in range(steps):
        lr = schedule(count)  # read before the schedule's count is incremented
        g = quadratic_grad(p, a, c)
        p = p + (-lr) * d(g)
        out.append(p.copy())
        lrs.append(lr)
    return out, lrs


def lookahead_trajectory(p0, a, c, lr, sync_period, slow_step_size, steps, **radam_kw):
    fast = np.array(p0, dtype=np.float64)
    slow = fast.copy()
    d = RadamDirection(fast.size, **radam_kw)
    fasts, slows = [], []
    for s in range(1, steps + 1):
        g = quadratic_grad(fast, a, c)
        u = (-lr) * d(g)
        if s % sync_period == 0:
            last = fast + u
            slow = slow + slow_step_size * (last - slow)
            fast = slow.copy()
        else:
            fast = fast + u
        fasts.append(fast.copy())
        slows.append(slow.copy())
    return fasts, slows


# ---------------------------------------------------------------------------
# Fixture
# ---------------------------------------------------------------------------


def record_sensitivity(case: dict, traj, traj_reordered) -> None:
    """How far a reordered-arithmetic run drifts from the reference (a guide for
    test tolerances: rounding differences of this kind are what an independent
    implementation will show)."""
    diff = [float(np.max(np.abs(x - y))) for x, y in zip(traj, traj_reordered)]
    case["max_abs_diff_reordered_arithmetic"] = max(diff)
    case["abs_diff_reordered_arithmetic"] = [diff[s - 1] for s in case["step_indices"]]


def flat(x) -> list[float]:
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def pick(traj, idx):
    return [flat(traj[s - 1]) for s in idx]


def base_case(kind, name, seed, shape, steps, lr, b1, b2, n_zero=0, eps=1e-8, eps_root=0.0):
    size = int(np.prod(shape))
    a, c, p0 = make_problem(seed, size, n_zero)
    case = {
        "name": name,
        "kind": kind,
        "seed": seed,
        "lr": lr,
        "b1": b1,
        "b2": b2,
        "eps": eps,
        "eps_root": eps_root,
        "threshold": 5.0,
        "nesterov": False,
        "steps": steps,
        "shape": list(shape),
        "size": size,
        "zero_grad_indices": [int(i) for i in np.flatnonzero(a == 0.0)],
        "a": flat(a),
        "c": flat(c),
        "p0": flat(p0),
        "step_indices": stored_steps(steps),
    }
    kw = dict(b1=b1, b2=b2, eps=eps, eps_root=eps_root, threshold=5.0)
    return case, a, c, p0, kw


def decoupled_cases():
    specs = [
        # name, seed, shape, steps, lr, b1, b2, wd, n_zero
        ("dwd_wd0.01_lr0.01_b0.9_0.999", 501, [3, 4], 300, 1e-2, 0.9, 0.999, 1e-2, 2),
        ("dwd_wd0.1_lr0.003_b0.9_0.999", 502, [16], 350, 3e-3, 0.9, 0.999, 0.1, 0),
        ("dwd_wd0.05_lr0.1_b0.8_0.99", 503, [7], 300, 0.1, 0.8, 0.99, 5e-2, 1),
    ]
    for name, seed, shape, steps, lr, b1, b2, wd, nz in specs:
        case, a, c, p0, kw = base_case("radam_decoupled_weight_decay", name, seed, shape, steps, lr, b1, b2, nz)
        case["weight_decay"] = wd
        case["optax"] = (
            f"chain(scale_by_radam(b1={b1}, b2={b2}, eps=1e-8), add_decayed_weights({wd}), "
            f"scale_by_learning_rate({lr}))"
        )
        traj = decoupled_wd_trajectory(p0, a, c, lr, wd, steps, **kw)
        case["params"] = pick(traj, case["step_indices"])
        record_sensitivity(case, traj, decoupled_wd_trajectory(p0, a, c, lr, wd, steps, reorder=True, **kw))
        yield case


def warmup_cases():
    specs = [
        # name, seed, shape, steps, peak lr, warmup steps, b1, b2
        ("warmup_W50_lr0.01_b0.9_0.999", 601, [7], 300, 1e-2, 50, 0.9, 0.999),
        ("warmup_W100_lr0.003_b0.9_0.999", 602, [3, 4], 350, 3e-3, 100, 0.9, 0.999),
        ("warmup_W10_lr0.1_b0.8_0.99", 603, [16], 300, 0.1, 10, 0.8, 0.99),
    ]
    for name, seed, shape, steps, lr, w, b1, b2 in specs:
        case, a, c, p0, kw = base_case("radam_linear_warmup", name, seed, shape, steps, lr, b1, b2)
        case["schedule"] = {
            "type": "linear_schedule",
            "init_value": 0.0,
            "end_value": lr,
            "transition_steps": w,
            "transition_begin": 0,
        }
        case["optax"] = (
            f"radam(linear_schedule(init_value=0.0, end_value={lr}, transition_steps={w}), "
            f"b1={b1}, b2={b2}, eps=1e-8)"
        )
        traj, lrs = warmup_trajectory(p0, a, c, linear_schedule(0.0, lr, w), steps, **kw)
        case["params"] = pick(traj, case["step_indices"])
        alt, _ = warmup_trajectory(p0, a, c, linear_schedule(0.0, lr, w), steps, reorder=True, **kw)
        record_sensitivity(case, traj, alt)
        # learning rate used by the update that produced params after step s (count = s - 1)
        case["learning_rates"] = [lrs[s - 1] for s in case["step_indices"]]
        yield case


def lookahead_cases():
    specs = [
        # name, seed, shape, steps, lr, sync_period, slow_step_size, b1, b2
        ("lookahead_k5_a0.5_lr0.01", 701, [7], 300, 1e-2, 5, 0.5, 0.9, 0.999),
        ("lookahead_k6_a0.8_lr0.1", 702, [3, 4], 300, 0.1, 6, 0.8, 0.9, 0.999),
        ("lookahead_k1_a0.5_lr0.003", 703, [5], 300, 3e-3, 1, 0.5, 0.9, 0.99),
    ]
    for name, seed, shape, steps, lr, k, alpha, b1, b2 in specs:
        case, a, c, p0, kw = base_case("lookahead_radam", name, seed, shape, steps, lr, b1, b2)
        case["sync_period"] = k
        case["slow_step_size"] = alpha
        case["reset_state"] = False
        case["optax"] = (
            f"lookahead(radam({lr}, b1={b1}, b2={b2}, eps=1e-8), sync_period={k}, "
            f"slow_step_size={alpha}, reset_state=False); params LookaheadParams.init_synced(p0); "
            "gradients at params.fast"
        )
        fasts, slows = lookahead_trajectory(p0, a, c, lr, k, alpha, steps, **kw)
        case["fast_params"] = pick(fasts, case["step_indices"])
        case["slow_params"] = pick(slows, case["step_indices"])
        alt_f, alt_s = lookahead_trajectory(p0, a, c, lr, k, alpha, steps, reorder=True, **kw)
        record_sensitivity(case, [np.concatenate(x) for x in zip(fasts, slows)],
                           [np.concatenate(x) for x in zip(alt_f, alt_s)])
        yield case


def dump_fixture(path: str, header: dict, cases: list[dict]) -> None:
    """Header fields pretty-printed, one compact line per case."""
    for case in cases:
        json.dumps(case, allow_nan=False)  # raises on NaN/inf
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)},")
    lines.append('  "cases": [')
    body = [
        "    " + json.dumps(case, allow_nan=False, separators=(",", ":")) for case in cases
    ]
    lines.append(",\n".join(body))
    lines.append("  ]")
    lines.append("}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    cases = [*decoupled_cases(), *warmup_cases(), *lookahead_cases()]
    header = {
        "generator": "scripts/reference_companions.py",
        "command": COMMAND,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "dtype": "float64",
        "gradient": "g = a * (p - c) elementwise (p - c first, then times a), p = current params (fast params for lookahead)",
        "step_convention": "params[i] / fast_params[i] / slow_params[i] are the params after step step_indices[i] (1-based: after that many updates); p0 is before the first update",
        "storage": f"every step 1..{DENSE_STEPS}, then every {STRIDE}th step, plus the last step",
    }
    dump_fixture(OUT, header, cases)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
