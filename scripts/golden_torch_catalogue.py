"""Golden float64 trajectories of the torch.optim optimizers whose update rule
coincides with an optax alias; writes ``test/fixtures/catalogue_torch.json``.

Run from the repository root (Debian: ``apt-get install -y python3-torch python3-numpy``):

    /usr/bin/python3 scripts/golden_torch_catalogue.py

Every case runs one torch optimizer (``foreach=False``, the single-tensor code
path of the installed ``torch/optim/<name>.py``, torch 1.13) in float64
(``torch.set_default_dtype(torch.float64)``, so the step counters and NAdam's
``mu_product`` are float64 too) on two parameter tensors, ``w`` of shape [3, 4]
and ``b`` of shape [5], for ``STEPS`` steps. Each case names its optax-ts
equivalent as ``members``: a list of ``{fn, args}`` (``fn`` an export of
optax-ts, ``args`` its positional first argument and, if any, one options
object with optax's argument names in camelCase; optax's None is null); several
members are chained with ``chain``.

Each case also records how far torch is from the optax rule written out here in
plain float64 NumPy (``optax_rule_*`` below, optax's operation order), and how
far that rule drifts from itself when every gradient and the learning rate are
perturbed by 2^-50 relative (the trajectory's amplification of rounding noise).
Both are tolerance guides; differences are scaled as ``|x - y| / max(|y|, 1)``
(relative for |p| >= 1, absolute below; all params here are O(1)).

Definitional differences (torch 1.13 source vs optax source)
-----------------------------------------------------------
Weight decay. torch's ``weight_decay`` in Adadelta, Adagrad, Adamax, Adam,
RMSprop and SGD is an L2 term added to the gradient (``g + wd * p``) before
anything else. optax's ``add_decayed_weights(wd)`` placed *first* in a chain is
the same thing (``g + wd * p``), so those cases are ``chain(add_decayed_weights,
alias)``; optax ``adadelta`` has that term built in (its ``weight_decay``).
torch AdamW decays ``p *= 1 - lr * wd`` and then takes the Adam step; optax
``adamw`` adds ``wd * p`` (the pre-step params) to the Adam direction and scales
by ``-lr``: ``p - lr * wd * p - lr * dir`` in both.

Adadelta. Same rule: ``E[g^2] = rho E[g^2] + (1 - rho) g^2``,
``u = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g``,
``E[dx^2] = rho E[dx^2] + (1 - rho) u^2``, ``p -= lr * u`` (the accumulated
update is the one before the learning rate in both). No neutralisation needed.

Adagrad. torch: ``s = init + sum g^2``, ``p -= clr * g / (sqrt(s) + eps)`` with
``clr = lr / (1 + (t - 1) lr_decay)``. optax ``scale_by_rss``: the same sum, but
``g * rsqrt(s + eps)`` -- eps INSIDE the root -- and 0 where ``s == 0``
(``where(s > 0, ., 0)``). Neutralised with eps = 0 on both sides and
lr_decay = 0 (optax has no lr decay). With ``initial_accumulator_value = 0`` an
element whose gradient is always 0 gives torch ``0 / 0 = NaN`` and optax 0, so
the init = 0 case has no zero-gradient elements; the init = 0.1 case has some.

Adamax. Same rule: ``m = b1 m + (1 - b1) g``, ``u = max(b2 u, |g| + eps)``,
``p -= lr / (1 - b1^t) * m / u``; eps is added to |g| before the max in both.

NAdam. torch 1.13 (``_single_tensor_nadam``):
``mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay))``, ``P_t = prod_{i<=t} mu_i``,
``p -= lr (1 - mu_t) / (1 - P_t) * g / d + lr mu_{t+1} / (1 - P_t mu_t mu_{t+1}) * m / d``
with ``d = sqrt(v / (1 - b2^t)) + eps`` and ``m`` the plain b1-EMA (two separate
``addcdiv_`` on the params). optax ``nadam`` = ``adam(nesterov=True)``:
``p -= lr (b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)) / d``.
"Switching momentum decay off" with ``momentum_decay = 0`` gives
``mu_t = 0.5 b1`` (0.96^0 = 1): a different optimizer. The closest mapping is a
huge momentum_decay (1e6: ``0.96^(t * 1e6)`` underflows to exactly 0, so
``mu_t = b1`` exactly and the g term matches optax), but torch 1.13 multiplies
``mu_t`` into ``P_{t+1}`` twice (``mu_product_next = mu_product * mu * mu_next``
after ``mu_product *= mu``), so its m coefficient is ``b1 / (1 - b1^(t+2))``
against optax's ``b1 / (1 - b1^(t+1))`` (fixed in later torch). No b1 > 0 makes
them equal; with b1 = 0 both reduce exactly to ``p -= lr g / d`` (torch's
second term is ``-0 * m / d``, a no-op). Only b1 = 0 cases are compared; the
b1 = 0.9 gap is measured under ``excluded``.

RMSprop. torch: ``v = a v + (1 - a) g^2``; centered ``gbar = a gbar + (1 - a) g``,
``d = sqrt(v - gbar^2) + eps`` (else ``sqrt(v) + eps``); with momentum > 0
``buf = mom buf + g / d``, ``p -= lr buf``, else ``p -= lr g / d``. optax
``rmsprop(eps_in_sqrt=False, initial_scale=0, bias_correction=False,
nesterov=False)``: ``scale_by_rms`` / ``scale_by_stddev`` give ``g / d`` with
the same d, then ``-lr``, then ``trace(momentum)`` on the scaled update:
``t = -lr g / d + mom t`` = ``-lr * buf`` for a constant lr. optax's defaults
differ (eps inside the root, decay 0.9 vs torch alpha 0.99), so every option is
spelled out. torch momentum = 0 means no buffer; optax momentum None.

SGD. torch's first step sets ``buf = g`` (no dampening), later
``buf = mom buf + (1 - dampening) g``; nesterov ``d = g + mom buf``, else
``d = buf``; ``p -= lr d``. optax ``trace``: ``t = g + mom t`` from ``t = 0``
(so ``t_1 = g`` exactly), nesterov ``g + mom t``; then ``-lr``. Equal with
dampening = 0.

Adam. Same rule: torch ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``,
optax ``(m / (1 - b1^t)) / (sqrt(v / (1 - b2^t) + eps_root) + eps)`` with eps_root = 0.

AMSGrad. torch keeps the max of the *uncorrected* v and divides it by the
current ``sqrt(1 - b2^t)``: ``d = sqrt(max_{s<=t} v_s) / sqrt(1 - b2^t) + eps``.
optax ``scale_by_amsgrad`` keeps the max of the *bias-corrected* v:
``d = sqrt(max_{s<=t} v_s / (1 - b2^s)) + eps``. These differ whenever the max
is attained at an earlier step (e.g. ``v_1 > v_2`` gives torch
``v_1 / (1 - b2^2)`` and optax ``v_1 / (1 - b2)``). With b2 = 0 every
correction is 1 and ``v_t = g_t^2`` in both, so only b2 = 0 cases are
compared; the b2 = 0.999 gap is measured under ``excluded``.

Rprop (excluded). Besides torch clamping the step size even when
``g * prev == 0`` (optax leaves it), optax's ``scale_by_rprop`` returns the
*previous* step's ``step_size * sign(g)`` (``state.prev_updates``), zeroed on a
sign change, so its first update is 0 and every update lags one step behind
torch's, which applies the current ``step_size * sign(g)``. The trajectories are
different; measured under ``excluded``.

Zero gradients: elements with ``a = 0`` (``zero_grad_indices``, flat per param)
have g = 0 at every step (unless an L2 term is added); every compared case keeps
them finite (eps > 0, or adagrad's init > 0) and the script checks they never
move.

torch's float64 arithmetic uses FMA contractions in its CPU kernels (see
``golden_torch.py``), and its operation order differs from optax's (e.g.
``lr / bc1 * m / d`` vs ``(m / bc1) / d * -lr``), so torch is not bit-identical
to the optax rule; ``max_rel_diff_vs_optax_rule`` records the gap.

Fixture layout: see ``scripts/README.md``.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_companions import ROOT, dump_fixture, flat, make_problem, stored_steps  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "catalogue_torch.json")
COMMAND = "/usr/bin/python3 scripts/golden_torch_catalogue.py"
STEPS = 100
SHAPES = {"w": [3, 4], "b": [5]}
NUDGE = 2.0**-50


# --- the problem ----------------------------------------------------------------


def problem(seed: int, n_zero: int):
    """a, c, p0 for each param (``n_zero`` zero-gradient elements in each)."""
    out = {}
    for k, (name, shape) in enumerate(SHAPES.items()):
        size = int(np.prod(shape))
        out[name] = make_problem(seed * 10 + k, size, n_zero)
    return out


def grads(prob, params, scale=1.0):
    return {k: (prob[k][0] * (params[k] - prob[k][1])) * scale for k in params}


# --- torch ------------------------------------------------------------------------


def run_torch(prob, make_opt, steps=STEPS):
    params = {k: torch.nn.Parameter(torch.tensor(prob[k][2]).reshape(SHAPES[k])) for k in SHAPES}
    a = {k: torch.tensor(prob[k][0]).reshape(SHAPES[k]) for k in SHAPES}
    c = {k: torch.tensor(prob[k][1]).reshape(SHAPES[k]) for k in SHAPES}
    opt = make_opt(list(params.values()))
    out = []
    for _ in range(steps):
        with torch.no_grad():
            for k, p in params.items():
                p.grad = a[k] * (p.detach() - c[k])
        opt.step()
        out.append({k: p.detach().numpy().ravel().copy() for k, p in params.items()})
    return out


# --- the optax rules in plain float64 (optax's operation order) ---------------------


def optax_rule(prob, kind, hp, steps=STEPS, scale=1.0):
    """Params after each step under optax's definition of ``kind``.

    ``scale`` multiplies every gradient and the learning rate (noise probe)."""
    p = {k: prob[k][2].copy() for k in SHAPES}
    st = {k: {} for k in SHAPES}
    lr = hp["lr"] * scale
    out = []
    for t in range(1, steps + 1):
        g_all = grads(prob, p, scale)
        for k in SHAPES:
            g, s, x = g_all[k], st[k], p[k]
            z = np.zeros_like(x)
            if hp.get("l2", 0.0):
                g = g + hp["l2"] * x
            if kind == "adadelta":
                rho, eps = hp["rho"], hp["eps"]
                s.setdefault("e_g", z.copy())
                s.setdefault("e_x", z.copy())
                s["e_g"] = (1 - rho) * g**2 + rho * s["e_g"]
                u = (np.sqrt(s["e_x"] + eps) / np.sqrt(s["e_g"] + eps)) * g
                s["e_x"] = (1 - rho) * u**2 + rho * s["e_x"]
                u = u * -lr
            elif kind == "adagrad":
                s.setdefault("sum", np.full_like(x, hp["init"]))
                s["sum"] = g**2 + s["sum"]
                with np.errstate(divide="ignore"):
                    inv = np.where(s["sum"] > 0, 1 / np.sqrt(s["sum"] + hp["eps"]), 0.0)
                u = (inv * g) * -lr
            elif kind == "adamax":
                b1, b2, eps = hp["b1"], hp["b2"], hp["eps"]
                s.setdefault("mu", z.copy())
                s.setdefault("nu", z.copy())
                s["mu"] = (1 - b1) * g + b1 * s["mu"]
                s["nu"] = np.maximum(np.abs(g) + eps, b2 * s["nu"])
                u = ((s["mu"] / (1 - b1**t)) / s["nu"]) * -lr
            elif kind in ("adam", "amsgrad", "adamw"):
                b1, b2, eps = hp["b1"], hp["b2"], hp["eps"]
                s.setdefault("mu", z.copy())
                s.setdefault("nu", z.copy())
                s.setdefault("nu_max", z.copy())
                s["mu"] = (1 - b1) * g + b1 * s["mu"]
                s["nu"] = (1 - b2) * g**2 + b2 * s["nu"]
                if hp.get("nesterov"):
                    mu_hat = b1 * (s["mu"] / (1 - b1 ** (t + 1))) + (1 - b1) * (g / (1 - b1**t))
                else:
                    mu_hat = s["mu"] / (1 - b1**t)
                nu_hat = s["nu"] / (1 - b2**t)
                if kind == "amsgrad":
                    s["nu_max"] = np.maximum(s["nu_max"], nu_hat)
                    nu_hat = s["nu_max"]
                u = mu_hat / (np.sqrt(nu_hat + 0.0) + eps)
                if kind == "adamw":
                    u = u + hp["wd"] * x
                u = u * -lr
            elif kind == "rmsprop":
                d, eps = hp["decay"], hp["eps"]
                s.setdefault("nu", z.copy())
                s["nu"] = (1 - d) * g**2 + d * s["nu"]
                if hp["centered"]:
                    s.setdefault("mu", z.copy())
                    s["mu"] = (1 - d) * g + d * s["mu"]
                    sc = 1 / (np.sqrt(s["nu"] - s["mu"] ** 2) + eps)
                else:
                    sc = 1 / (np.sqrt(s["nu"]) + eps)
                u = (sc * g) * -lr
                if hp["momentum"] is not None:
                    s.setdefault("trace", z.copy())
                    s["trace"] = u + hp["momentum"] * s["trace"]
                    u = s["trace"]
            elif kind == "sgd":
                m = hp["momentum"]
                s.setdefault("trace", z.copy())
                s["trace"] = g + m * s["trace"]
                u = (g + m * s["trace"]) if hp["nesterov"] else s["trace"]
                u = u * -lr
            elif kind == "rprop":
                s.setdefault("step_sizes", np.full_like(x, hp["lr"]))
                s.setdefault("prev", z.copy())
                sign = g * s["prev"]
                new_ss = np.where(
                    sign == 0,
                    s["step_sizes"],
                    np.clip(s["step_sizes"] * np.where(sign > 0, 1.2, 0.5), 1e-6, 50.0),
                )
                new_prev = np.where(sign < 0, 0.0, new_ss * np.sign(g))
                u = np.where(sign < 0, 0.0, s["prev"])  # the previous step's update
                s["step_sizes"], s["prev"] = new_ss, new_prev
                u = u * -1.0
            else:
                raise ValueError(kind)
            p[k] = x + u
        out.append({k: v.copy() for k, v in p.items()})
    return out


def scaled_diff(traj, ref):
    """max over steps and elements of |x - y| / max(|y|, 1), per step."""
    per_step = []
    for x, y in zip(traj, ref):
        m = 0.0
        for k in SHAPES:
            d = np.abs(x[k] - y[k]) / np.maximum(np.abs(y[k]), 1.0)
            m = max(m, float(np.max(d)))
        per_step.append(m)
    return per_step


# --- cases ------------------------------------------------------------------------


def L2(wd, member):
    """optax chain of L2 decay (torch's weight_decay) then the alias."""
    return [{"fn": "addDecayedWeights", "args": [wd]}, member]


def case_specs():
    """(name, seed, n_zero, torch factory, torch call, kind, hp, members, differences)."""
    T = torch.optim
    specs = []

    def add(name, seed, n_zero, factory, call, kind, hp, members, differences):
        specs.append(dict(name=name, seed=seed, n_zero=n_zero, factory=factory, torch=call,
                          kind=kind, hp=hp, members=members, differences=differences))

    same_l2 = "torch weight_decay is L2 (g + wd*p before the optimizer) = optax add_decayed_weights(wd) chained first."

    # Adadelta
    for name, seed, nz, lr, rho, eps, wd in [
        ("adadelta_rho0.9_eps1e-4_lr1", 10, 2, 1.0, 0.9, 1e-4, 0.0),
        ("adadelta_rho0.95_eps1e-6_lr1_wd0.01", 11, 1, 1.0, 0.95, 1e-6, 0.01),
    ]:
        add(name, seed, nz,
            lambda ps, lr=lr, rho=rho, eps=eps, wd=wd: T.Adadelta(ps, lr=lr, rho=rho, eps=eps, weight_decay=wd, foreach=False),
            f"torch.optim.Adadelta(lr={lr}, rho={rho}, eps={eps}, weight_decay={wd}, foreach=False)",
            "adadelta", dict(lr=lr, rho=rho, eps=eps, l2=wd),
            [{"fn": "adadelta", "args": [lr, {"rho": rho, "eps": eps, "weightDecay": wd}]}],
            "Same rule (sqrt(E[dx^2]+eps)/sqrt(E[g^2]+eps)*g, E[dx^2] accumulates the update before lr). "
            "Both weight decays are L2 (g + wd*p) added before the rule. Nothing to neutralise.")

    # Adagrad
    ada_diff = ("torch divides by sqrt(sum) + eps; optax scale_by_rss multiplies by rsqrt(sum + eps) (eps inside the "
                "root) and gives 0 where sum == 0. Neutralised by eps = 0 on both sides; torch lr_decay = 0 "
                "(optax has none).")
    for name, seed, nz, lr, init, wd in [
        ("adagrad_init0.1_eps0_lr0.3", 20, 2, 0.3, 0.1, 0.0),
        ("adagrad_init0_eps0_lr0.1", 21, 0, 0.1, 0.0, 0.0),
        ("adagrad_init0.1_eps0_lr0.3_wd0.05", 22, 1, 0.3, 0.1, 0.05),
    ]:
        member = {"fn": "adagrad", "args": [lr, {"initialAccumulatorValue": init, "eps": 0.0}]}
        add(name, seed, nz,
            lambda ps, lr=lr, init=init, wd=wd: T.Adagrad(ps, lr=lr, lr_decay=0, weight_decay=wd, initial_accumulator_value=init, eps=0.0, foreach=False),
            f"torch.optim.Adagrad(lr={lr}, lr_decay=0, weight_decay={wd}, initial_accumulator_value={init}, eps=0.0, foreach=False)",
            "adagrad", dict(lr=lr, init=init, eps=0.0, l2=wd),
            L2(wd, member) if wd else [member],
            ada_diff + (" With init = 0 an always-zero gradient is 0/0 = NaN in torch, so this case has no zero-gradient elements."
                        if init == 0 else "") + (" " + same_l2 if wd else ""))

    # Adamax
    for name, seed, nz, lr, b1, b2, eps, wd in [
        ("adamax_b0.9_0.999_eps1e-8_lr0.05", 30, 2, 0.05, 0.9, 0.999, 1e-8, 0.0),
        ("adamax_b0.8_0.99_eps1e-3_lr0.02", 31, 1, 0.02, 0.8, 0.99, 1e-3, 0.0),
        ("adamax_b0.9_0.999_eps1e-8_lr0.05_wd0.01", 32, 1, 0.05, 0.9, 0.999, 1e-8, 0.01),
    ]:
        member = {"fn": "adamax", "args": [lr, {"b1": b1, "b2": b2, "eps": eps}]}
        add(name, seed, nz,
            lambda ps, lr=lr, b1=b1, b2=b2, eps=eps, wd=wd: T.Adamax(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False),
            f"torch.optim.Adamax(lr={lr}, betas=({b1}, {b2}), eps={eps}, weight_decay={wd}, foreach=False)",
            "adamax", dict(lr=lr, b1=b1, b2=b2, eps=eps, l2=wd),
            L2(wd, member) if wd else [member],
            "Same rule: u = max(b2*u, |g| + eps), step lr/(1 - b1^t) * m / u." + (" " + same_l2 if wd else ""))

    # NAdam: only b1 = 0 is the same rule in torch 1.13
    nadam_diff = ("torch 1.13 NAdam uses mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)) and, through a double "
                  "multiplication by mu_t, an m coefficient b1/(1 - b1^(t+2)) where optax nadam (adam with "
                  "nesterov) has b1/(1 - b1^(t+1)); momentum_decay = 0 would give mu_t = b1/2. No b1 > 0 matches; "
                  "with b1 = 0 both are exactly p -= lr*g/(sqrt(v/(1 - b2^t)) + eps) (torch's m term is -0*m/d). "
                  "momentum_decay = 1e6 (mu_t = b1 exactly) is irrelevant at b1 = 0 but is the closest mapping.")
    for name, seed, nz, lr, b2, eps, fn in [
        ("nadam_b1_0_b2_0.999_lr0.01", 40, 2, 0.01, 0.999, 1e-8, "nadam"),
        ("nadam_b1_0_b2_0.999_lr0.01_as_adam_nesterov", 40, 2, 0.01, 0.999, 1e-8, "adam"),
        ("nadam_b1_0_b2_0.9_lr0.003", 41, 1, 0.003, 0.9, 1e-8, "nadam"),
    ]:
        opts = {"b1": 0.0, "b2": b2, "eps": eps, "epsRoot": 0.0}
        if fn == "adam":
            opts["nesterov"] = True
        add(name, seed, nz,
            lambda ps, lr=lr, b2=b2, eps=eps: T.NAdam(ps, lr=lr, betas=(0.0, b2), eps=eps, weight_decay=0, momentum_decay=1e6, foreach=False),
            f"torch.optim.NAdam(lr={lr}, betas=(0.0, {b2}), eps={eps}, weight_decay=0, momentum_decay=1e6, foreach=False)",
            "adam", dict(lr=lr, b1=0.0, b2=b2, eps=eps, nesterov=True),
            [{"fn": fn, "args": [lr, opts]}],
            nadam_diff + (" Here as optax adam(nesterov=True), which nadam is defined as." if fn == "adam" else ""))

    # RMSprop
    for name, seed, nz, lr, alpha, eps, centered, mom, wd in [
        ("rmsprop_alpha0.99_eps1e-8_lr0.01", 50, 2, 0.01, 0.99, 1e-8, False, 0.0, 0.0),
        ("rmsprop_centered_alpha0.9_eps1e-8_lr0.01", 51, 2, 0.01, 0.9, 1e-8, True, 0.0, 0.0),
        ("rmsprop_momentum0.9_alpha0.99_eps1e-6_lr0.003", 52, 1, 0.003, 0.99, 1e-6, False, 0.9, 0.0),
        ("rmsprop_centered_momentum0.5_alpha0.95_eps1e-8_lr0.005", 53, 1, 0.005, 0.95, 1e-8, True, 0.5, 0.0),
        ("rmsprop_momentum0.9_alpha0.99_eps1e-8_lr0.003_wd0.01", 54, 1, 0.003, 0.99, 1e-8, False, 0.9, 0.01),
    ]:
        momentum = mom if mom > 0 else None
        member = {"fn": "rmsprop", "args": [lr, {
            "decay": alpha, "eps": eps, "initialScale": 0.0, "epsInSqrt": False, "centered": centered,
            "momentum": momentum, "nesterov": False, "biasCorrection": False}]}
        add(name, seed, nz,
            lambda ps, lr=lr, alpha=alpha, eps=eps, centered=centered, mom=mom, wd=wd: T.RMSprop(
                ps, lr=lr, alpha=alpha, eps=eps, weight_decay=wd, momentum=mom, centered=centered, foreach=False),
            f"torch.optim.RMSprop(lr={lr}, alpha={alpha}, eps={eps}, weight_decay={wd}, momentum={mom}, centered={centered}, foreach=False)",
            "rmsprop", dict(lr=lr, decay=alpha, eps=eps, centered=centered, momentum=momentum, l2=wd),
            L2(wd, member) if wd else [member],
            "torch puts eps outside the root (sqrt(v) + eps, centered sqrt(v - gbar^2) + eps) = optax "
            "eps_in_sqrt=False; torch has no bias correction and starts v at 0 (bias_correction=False, "
            "initial_scale=0); torch's momentum buffer accumulates g/d and is scaled by lr, optax's trace "
            "accumulates -lr*g/d (equal for a constant lr); torch momentum 0 = optax momentum None; torch has "
            "no Nesterov (nesterov=False). All of optax's defaults differ, so every option is explicit."
            + (" " + same_l2 if wd else ""))

    # SGD
    for name, seed, nz, lr, mom, nesterov, wd in [
        ("sgd_nesterov_momentum0.9_lr0.05", 60, 2, 0.05, 0.9, True, 0.0),
        ("sgd_nesterov_momentum0.5_lr0.1_wd0.01", 61, 1, 0.1, 0.5, True, 0.01),
        ("sgd_momentum0.9_lr0.03", 62, 1, 0.03, 0.9, False, 0.0),
    ]:
        member = {"fn": "sgd", "args": [lr, {"momentum": mom, "nesterov": nesterov}]}
        add(name, seed, nz,
            lambda ps, lr=lr, mom=mom, nesterov=nesterov, wd=wd: T.SGD(
                ps, lr=lr, momentum=mom, dampening=0, weight_decay=wd, nesterov=nesterov, foreach=False),
            f"torch.optim.SGD(lr={lr}, momentum={mom}, dampening=0, weight_decay={wd}, nesterov={nesterov}, foreach=False)",
            "sgd", dict(lr=lr, momentum=mom, nesterov=nesterov, l2=wd),
            L2(wd, member) if wd else [member],
            "torch's first step sets buf = g, optax's trace starts at 0 so t_1 = g + mom*0 = g; later both "
            "accumulate mom*buf + g (torch dampening = 0); Nesterov direction g + mom*buf in both."
            + (" " + same_l2 if wd else ""))

    # Adam (AMSGrad only with b2 = 0), AdamW
    ams_diff = ("torch keeps max of the uncorrected v and divides by sqrt(1 - b2^t) of the current step; optax "
                "scale_by_amsgrad keeps the max of the bias-corrected v/(1 - b2^s). Equal only when b2 = 0 (every "
                "correction is 1, v_t = g_t^2 in both).")
    for name, seed, nz, lr, b1, b2, eps, wd, ams in [
        ("amsgrad_b0.9_0_lr0.01", 70, 2, 0.01, 0.9, 0.0, 1e-8, 0.0, True),
        ("amsgrad_b0.5_0_eps1e-3_lr0.03", 71, 1, 0.03, 0.5, 0.0, 1e-3, 0.0, True),
        ("adam_b0.9_0.999_lr0.05", 72, 2, 0.05, 0.9, 0.999, 1e-8, 0.0, False),
        ("adam_b0.8_0.99_lr0.01_wd0.01", 73, 1, 0.01, 0.8, 0.99, 1e-8, 0.01, False),
    ]:
        opts = {"b1": b1, "b2": b2, "eps": eps, "epsRoot": 0.0}
        member = {"fn": "amsgrad" if ams else "adam", "args": [lr, opts]}
        add(name, seed, nz,
            lambda ps, lr=lr, b1=b1, b2=b2, eps=eps, wd=wd, ams=ams: T.Adam(
                ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=ams, foreach=False),
            f"torch.optim.Adam(lr={lr}, betas=({b1}, {b2}), eps={eps}, weight_decay={wd}, amsgrad={ams}, foreach=False)",
            "amsgrad" if ams else "adam", dict(lr=lr, b1=b1, b2=b2, eps=eps, l2=wd),
            L2(wd, member) if wd else [member],
            (ams_diff if ams else
             "Same rule: torch lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps) = optax (m/(1 - b1^t)) / "
             "(sqrt(v/(1 - b2^t) + eps_root) + eps) with eps_root = 0.") + (" " + same_l2 if wd else ""))
    add("adamw_b0.9_0.999_lr0.01_wd0.1", 74, 1,
        lambda ps: T.AdamW(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False, foreach=False),
        "torch.optim.AdamW(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False, foreach=False)",
        "adamw", dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8, wd=0.1),
        [{"fn": "adamw", "args": [0.01, {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "epsRoot": 0.0, "weightDecay": 0.1}]}],
        "torch multiplies p by 1 - lr*wd, then takes the Adam step; optax adds wd*p (pre-step params) to the "
        "Adam direction and scales by -lr: p - lr*wd*p - lr*dir in both.")
    return specs


def excluded_specs():
    """Configurations that are NOT the optax rule, with the measured gap (documentation only)."""
    T = torch.optim
    return [
        dict(name="nadam_b0.9_0.999_momentum_decay1e6", seed=80, kind="adam",
             hp=dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8, nesterov=True),
             factory=lambda ps: T.NAdam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, momentum_decay=1e6, foreach=False),
             torch="torch.optim.NAdam(lr=0.01, betas=(0.9, 0.999), eps=1e-8, momentum_decay=1e6, foreach=False)",
             optax="nadam(0.01, b1=0.9, b2=0.999, eps=1e-8)",
             reason="torch 1.13's m coefficient is b1/(1 - b1^(t+2)) (mu_t counted twice), optax's b1/(1 - b1^(t+1))"),
        dict(name="nadam_b0.9_0.999_momentum_decay0", seed=80, kind="adam",
             hp=dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8, nesterov=True),
             factory=lambda ps: T.NAdam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, momentum_decay=0.0, foreach=False),
             torch="torch.optim.NAdam(lr=0.01, betas=(0.9, 0.999), eps=1e-8, momentum_decay=0, foreach=False)",
             optax="nadam(0.01, b1=0.9, b2=0.999, eps=1e-8)",
             reason="momentum_decay = 0 makes mu_t = 0.5*b1, not b1"),
        dict(name="amsgrad_b0.9_0.999", seed=81, kind="amsgrad",
             hp=dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8),
             factory=lambda ps: T.Adam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, amsgrad=True, foreach=False),
             torch="torch.optim.Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-8, amsgrad=True, foreach=False)",
             optax="amsgrad(0.01, b1=0.9, b2=0.999, eps=1e-8)",
             reason="torch: max of uncorrected v over the current correction; optax: max of corrected v"),
        dict(name="adagrad_eps1e-10", seed=82, kind="adagrad",
             hp=dict(lr=0.3, init=0.1, eps=1e-10),
             factory=lambda ps: T.Adagrad(ps, lr=0.3, initial_accumulator_value=0.1, eps=1e-10, foreach=False),
             torch="torch.optim.Adagrad(lr=0.3, initial_accumulator_value=0.1, eps=1e-10, foreach=False)",
             optax="adagrad(0.3, initial_accumulator_value=0.1, eps=1e-10)",
             reason="torch sqrt(sum) + eps vs optax sqrt(sum + eps): a small but systematic difference"),
        dict(name="rprop_lr0.01", seed=83, kind="rprop",
             hp=dict(lr=0.01),
             factory=lambda ps: T.Rprop(ps, lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50), foreach=False),
             torch="torch.optim.Rprop(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50), foreach=False)",
             optax="rprop(0.01, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50)",
             reason="optax's scale_by_rprop returns the previous step's update (its first update is 0); torch applies the current one"),
    ]


def build_case(spec):
    prob = problem(spec["seed"], spec["n_zero"])
    traj = run_torch(prob, spec["factory"])
    for x in traj:
        for k in SHAPES:
            assert np.all(np.isfinite(x[k])), f"{spec['name']}: non-finite params"
    zero = {k: [int(i) for i in np.flatnonzero(prob[k][0] == 0.0)] for k in SHAPES}
    if not spec["hp"].get("l2") and spec["kind"] != "adamw":
        for x in traj:
            for k in SHAPES:
                assert np.array_equal(x[k][zero[k]], prob[k][2][zero[k]]), f"{spec['name']}: zero-gradient element moved"
    rule = optax_rule(prob, spec["kind"], spec["hp"])
    nudged = optax_rule(prob, spec["kind"], spec["hp"], scale=1 + NUDGE)
    vs_rule = scaled_diff(traj, rule)
    noise = scaled_diff(nudged, rule)
    idx = stored_steps(STEPS)
    moved = max(float(np.max(np.abs(traj[-1][k] - prob[k][2]))) for k in SHAPES)
    return {
        "name": spec["name"],
        "seed": spec["seed"],
        "steps": STEPS,
        "torch": spec["torch"],
        "members": spec["members"],
        "differences": spec["differences"],
        "max_rel_diff_vs_optax_rule": max(vs_rule),
        "max_rel_diff_nudged_optax_rule": max(noise),
        "rel_diff_vs_optax_rule": [vs_rule[s - 1] for s in idx],
        "max_abs_move": moved,
        "params": {
            k: {
                "shape": SHAPES[k],
                "a": flat(prob[k][0]),
                "c": flat(prob[k][1]),
                "p0": flat(prob[k][2]),
                "zero_grad_indices": zero[k],
                "trajectory": [flat(traj[s - 1][k]) for s in idx],
            }
            for k in SHAPES
        },
        "step_indices": idx,
    }


def build_excluded(spec):
    prob = problem(spec["seed"], 0)
    traj = run_torch(prob, spec["factory"])
    rule = optax_rule(prob, spec["kind"], spec["hp"])
    return {
        "name": spec["name"],
        "torch": spec["torch"],
        "optax": spec["optax"],
        "reason": spec["reason"],
        "max_rel_diff_vs_optax_rule": max(scaled_diff(traj, rule)),
    }


def main() -> None:
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    specs = case_specs()
    cases = [build_case(s) for s in specs]
    excluded = [build_excluded(s) for s in excluded_specs()]
    header = {
        "generator": "scripts/golden_torch_catalogue.py",
        "command": COMMAND,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "dtype": "float64 (torch.set_default_dtype(torch.float64))",
        "optimizer": "torch.optim.<Name>(foreach=False) over two params, w [3, 4] and b [5], in that order",
        "gradient": "per param g = a * (p - c) elementwise (p - c first, then times a), p = current params; torch adds its own weight_decay terms",
        "step_convention": "trajectory[i] are the params after step step_indices[i] (1-based); p0 is before the first update",
        "storage": "every step 1..20, then every 10th step, plus the last step",
        "members": "optax-ts equivalent: chain of [{fn, args}] (fn = optax-ts export, args = [positional first argument, options object]); one member = that call alone",
        "rel_diff": "|x - y| / max(|y|, 1) elementwise, max over elements of both params",
        "excluded": excluded,
    }
    dump_fixture(OUT, header, cases)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)")
    for cs in cases:
        print(f"  {cs['name']}: vs optax rule {cs['max_rel_diff_vs_optax_rule']:.3g}, "
              f"nudged rule {cs['max_rel_diff_nudged_optax_rule']:.3g}, moved {cs['max_abs_move']:.3g}")
    for ex in excluded:
        print(f"  excluded {ex['name']}: vs optax rule {ex['max_rel_diff_vs_optax_rule']:.3g}")


if __name__ == "__main__":
    main()
