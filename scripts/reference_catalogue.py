"""Independent float64 NumPy reference for optax's optimizer catalogue; writes
``test/fixtures/catalogue_reference.json`` (read by ``test/catalogue.test.ts``).

Run from the repository root:

    /usr/bin/python3 scripts/reference_catalogue.py

Every transformation below is written from optax's definitions (commit
``OPTAX_COMMIT``: ``optax/_src/alias.py``, ``transform.py``, ``factorized.py``,
``numerics.py``, ``optax/transforms/_accumulation.py``, ``_adding.py``,
``_clipping.py``, ``_constraining.py``, ``optax/tree_utils/_tree_math.py``,
``optax/contrib/_schedule_free.py``, ``_muon.py``), evaluated in IEEE float64
with NumPy in optax's operation order (one NumPy operation per operation of the
optax expression, left to right as Python groups it). No JAX or optax is needed.

Notation: ``g`` the incoming updates of a leaf, ``p`` its params, ``t`` the
count after incrementing (1 on the first update), ``bc(x, b) = x / (1 - b^t)``.
Every alias is the ``chain`` optax builds; ``lr(x) = (-lr) * x``
(``scale_by_learning_rate``), ``wd(x) = x + wd * p`` (``add_decayed_weights``,
skipped when the decay is the number 0). Moments are
``m = (1 - b) * g + b * m`` (``update_moment``) and ``(1 - b) * g^2 + b * v``.

Transformations
---------------
scale_by_adam(b1, b2, eps, eps_root, nesterov)
    m, v moments; m_hat = bc(m, b1), or with nesterov
    ``b1 * (m / (1 - b1^(t+1))) + (1 - b1) * (g / (1 - b1^t))``;
    v_hat = bc(v, b2); out = m_hat / (sqrt(v_hat + eps_root) + eps).
scale_by_amsgrad(b1, b2, eps, eps_root, bias_correction_mu/nu)
    as adam, then nu_max = max(nu_max, v_hat) (the *bias-corrected* v, when
    bias_correction_nu) is the state; out = m_hat / (sqrt(nu_max + eps_root) + eps).
scale_by_adamax(b1, b2, eps)
    m moment; v = max(|g| + eps, b2 * v) (eps inside the max); out = bc(m, b1) / v.
scale_by_belief(b1, b2, eps, eps_root, nesterov)
    m moment; s = (1 - b2) * (g - m)^2 + b2 * s using the NEW m; then
    s = s + eps_root is stored in the state; out = m_hat / (sqrt(bc(s, b2)) + eps).
scale_by_yogi(b1, b2, eps, eps_root, initial_accumulator_value)
    m and v both start at initial_accumulator_value (1e-6); m moment;
    v = v - (1 - b2) * sign(v - g^2) * g^2; out = bc(m) / (sqrt(bc(v) + eps_root) + eps).
scale_by_radam: see ``reference_companions.py`` (rho_t >= threshold, nesterov as adam).
scale_by_adan(b1, b2, b3, eps, eps_root)
    diff = 0 on the first update, else g - g_prev; m = mom(g, b1);
    v = mom(diff, b2); n = mom2(g + (1 - b2) * diff, b3);
    out = (bc(m, b1) + (1 - b2) * bc(v, b2)) / (sqrt(bc(n, b3) + eps_root) + eps).
scale_by_lion(b1, b2): out = sign((1 - b1) * g + b1 * m); then m = (1 - b2) * g + b2 * m.
scale_by_rss(initial_accumulator_value, eps)  [adagrad]
    s = g^2 + s (s starts at initial_accumulator_value); out = (s > 0 ? 1/sqrt(s + eps) : 0) * g.
scale_by_rms(decay, eps, initial_scale, eps_in_sqrt, bias_correction)
    v = mom2(g, decay) (v starts at initial_scale); v_hat = bc(v, decay) if
    bias_correction else v; scaling = 1/sqrt(v_hat + eps) (eps_in_sqrt) or
    1 / (sqrt(v_hat) + eps); out = scaling * g.
scale_by_stddev(...)  [rmsprop centered]
    m = mom(g, decay), v = mom2(g, decay); with bias correction both are corrected;
    scaling = 1/sqrt(v_hat - m_hat^2 + eps) or 1/(sqrt(v_hat - m_hat^2) + eps).
scale_by_adadelta(rho, eps)
    e_g = mom2(g, rho); out = sqrt(e_x + eps) / sqrt(e_g + eps) * g (OLD e_x);
    e_x = mom2(out, rho).
scale_by_rprop(lr, eta_minus, eta_plus, min_step_size, max_step_size)
    s = g * prev (prev = last stored update, 0 initially); step = s == 0 ? step :
    clip(step * (s > 0 ? eta_plus : eta_minus), min, max); new_prev = s < 0 ? 0 :
    step * sign(g); out = s < 0 ? 0 : OLD prev.  optax returns the *previous*
    stored update (so the first update is 0), not the new one; this reference
    follows optax.  The rprop alias appends scale(-1).
scale_by_sm3(b1, b2)  [sm3 alias: scale_by_sm3(momentum), scale(-lr)]
    per-axis accumulators mu_i (zeros, one vector per axis); 2-D:
    acc = c0 * g^2 + c1 * min(mu_0[:, None], mu_1[None, :]) with
    (c0, c1) = (1 - b2 if b2 != 1 else 1, b2); 1-D: the same with mu_0;
    up = g * (acc > 0 ? 1/sqrt(acc + eps) : 0); v = mom(up, b1) is the output;
    mu_0 = row maxima of acc, mu_1 = column maxima (1-D: mu_0 = acc).
scale_by_novograd(b1, b2, eps, eps_root, weight_decay)
    per leaf scalar nu: first update nu = ||g||^2 (``norm(g) ** 2``: the square
    of the square root), then nu = (1 - b2) * ||g||^2 + b2 * nu;
    a = g / (sqrt(nu + eps_root) + eps) + weight_decay * p; m = a on the first
    update, else b1 * m + a; out = m.
scale_by_trust_ratio(min_norm, trust_coefficient, eps)
    per leaf pn = safe_norm(p, min_norm), un = safe_norm(u, min_norm)
    (safe_norm(x, m) = m if ||x|| <= m else ||x||, Frobenius for 2-D);
    ratio = trust_coefficient * pn / (un + eps), 1 if pn == 0 or un == 0; out = u * ratio.
scale_by_factored_rms(factored, decay_rate, step_offset, min_dim_size_to_factor, epsilon)
    beta = 1 - (count - step_offset + 1)^(-decay_rate) with count BEFORE the
    increment (beta = 0 on the first update).  optax evaluates this scalar in
    float32 (``jnp.array(i + 1, jnp.float32)``); this reference uses float64, as
    optax-ts computes per-step scalars in float64.  gs = g^2 + epsilon.
    A leaf is factored when rank >= 2 and its second largest dimension is >=
    min_dim_size_to_factor (for [3, 4]: rows 3 -> factored iff min_dim <= 3):
    r = beta * r + (1 - beta) * mean(gs, axis=1); c = beta * c + (1 - beta) *
    mean(gs, axis=0); out = g * (r / mean(r))^(-0.5)[:, None] * c^(-0.5)[None, :].
    Otherwise v = beta * v + (1 - beta) * gs; out = g * v^(-0.5).
clip_by_block_rms(thr): out = u / max(1, sqrt(mean(u^2)) / thr) per leaf.
scale_by_param_block_rms(min_scale=1e-3): out = u * safe_rms(p) per leaf,
    safe_rms = min_scale if sqrt(mean(p^2)) <= min_scale else that rms.
scale_by_optimistic_gradient(alpha, beta)
    out = (alpha + beta) * g - beta * g_prev (g_prev = g on the first update).
scale_by_polyak(f_min, max_learning_rate, eps, variant)  [needs value=loss]
    n = sum over leaves of sum(u^2) (u = the incoming updates); gap = value - f_min
    (relu'd for 'sps+'); step = 0 if n + eps <= 2^-52 else min(gap / (n + eps), max_lr);
    out = step * u.  polyak_sgd = chain(sgd(scaling), scale_by_polyak), so u =
    (-scaling) * g: the norm is of the scaled, negated gradient.
trace(decay, nesterov): t = g + decay * t; out = t, or g + decay * t (nesterov).
ema(decay, debias): e = mom(g, decay); out = bc(e, decay) if debias else e.
centralize: 2-D leaves: g - mean(g, axis=1) (mean over all axes but the first);
    1-D leaves unchanged.
zero_nans: NaN -> 0 (no NaN arises here, so it is the identity on these cases).

Aliases (as chains): adabelief = belief, [wd], lr; adadelta = wd(weight_decay),
adadelta, lr; adafactor = factored_rms, [clip_by_block_rms(clipping_threshold)],
[scale(+lr)], [param_block_rms], [ema(momentum, debias=False)],
[wd(weight_decay_rate)], scale(-1); adagrad = rss, lr; adam; adamw = adam, wd,
lr; nadam / nadamw = adam / adamw with nesterov; adamax; adamaxw; amsgrad; adan =
adan, wd, lr; fromage: mult = 1/sqrt(1 + lr^2) (``(1 + lr**2) ** 0.5``),
chain(trust_ratio(min_norm), scale(-(lr * mult)), wd(mult - 1)); lamb = adam, wd,
trust_ratio(), lr; lars = wd, trust_ratio(trust_coefficient, eps), lr,
trace(momentum, nesterov); lion = lion, wd, lr; novograd = novograd, lr;
optimistic_gradient_descent = optimistic(alpha, beta), lr; optimistic_adam_v2 =
adam(nesterov default TRUE), optimistic(alpha, beta), lr; polyak_sgd; radam;
rmsprop = rms or stddev, lr, [trace(momentum, nesterov)] (momentum AFTER the
learning rate); rprop; sgd = [trace], lr; sign_sgd = sign, lr; signum =
ema(beta, debias=False), sign, lr; sm3; yogi (eps default 1e-3).

Contrib
-------
schedule_free_adamw(lr, b1, b2, eps, weight_decay, weight_lr_power)
    base optimizer = chain(scale_by_rms(b2, eps, eps_in_sqrt=False,
    bias_correction=True), wd, lr).  State z = p0, weight_sum = 0, max_lr = 0.
    Per update (gradient taken at the optimizer's params y): max_lr = max(max_lr, lr);
    w = max_lr^weight_lr_power; W = weight_sum + w; ck = w / W; u = base(g, y);
    z_new = z + u; x_prev = (y - (1 - b1) * z) / b1 (OLD z); x = (1 - ck) * x_prev +
    ck * z_new; y_new = b1 * x + (1 - b1) * z_new; the update is y_new - y and
    apply_updates adds it back: params = y + (y_new - y) (stored as optax computes
    it).  extra.eval_params = schedule_free_eval_params = (y - (1 - b1) * z) / b1
    with the new y and z.
muon(lr, ns_steps, beta, eps, weight_decay, nesterov, adaptive, adam_b1, adam_b2,
     adam_eps_root, adam_weight_decay, adam_learning_rate, consistent_rms)
    Leaves of rank 2 get chain(scale_by_muon, scale_by_shape, wd(weight_decay),
    lr); all others get adamw(adam_learning_rate or lr, adam_b1, adam_b2, eps=eps
    (muon's eps), adam_eps_root, adam_weight_decay, nesterov=nesterov) -- NAdamW by
    default, since muon's nesterov defaults to True.  scale_by_muon: m = mom(g, beta);
    m_hat as adam's (nesterov by default); X = m_hat (transposed if rows > cols);
    X = X / (||X||_F + eps); ns_steps times: A = X X^T; B = c1 * A + (c2 * A) A;
    X = c0 * X + B X with (c0, c1, c2) = (3.4445, -4.775, 2.0315); adaptive:
    out = sum(m_hat * X) * X.  scale_by_shape: out = sqrt(max(1, fan_out / fan_in)) * X
    (fan_in = rows, fan_out = cols), or with consistent_rms r:
    sqrt(max(fan_in, fan_out)) * r * X.

Gradient scheme: loss ``0.5 * sum over leaves of a * (p - c)^2`` with fixed
per-element ``a >= 0`` and ``c``: ``g = a * (p - c)`` (subtract, then multiply).
Elements with ``a == 0`` have an exactly zero gradient forever.  The loss passed
to polyak_sgd is ``0.5 * s`` with ``s`` the left-to-right sum of ``(a * d) * d``
(``d = p - c``) over the flat elements of ``w`` then ``b``.

Cross-checks made while writing this model (not part of the run): where torch.optim
(Debian's 1.13, float64, foreach=False) implements the same mathematics, the model agrees with it
to 5e-15 over 50 steps: Adamax, Adadelta with L2 weight decay (= optax adadelta's
add_decayed_weights first), centered RMSprop with momentum and eps outside the root, Adagrad with
eps = 0.  The Newton-Schulz iteration gives the same bits with a naive triple-loop matrix product.

Fixture layout: see ``scripts/README.md``.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "test", "fixtures", "catalogue_reference.json")
COMMAND = "/usr/bin/python3 scripts/reference_catalogue.py"
OPTAX_COMMIT = "2edbcbe2390da13983b92cbef94ac0460ecde1c5"
STEPS = 50
SHAPES = {"w": (3, 4), "b": (5,)}
NS_COEFFS = (3.4445, -4.775, 2.0315)


# ---------------------------------------------------------------------------
# Transformations: each is (init(params) -> state, update(u, state, params, **extra)
# -> (u, state)); params / updates are dicts of float64 arrays (w 2-D, b 1-D).
# ---------------------------------------------------------------------------


class T:
    def __init__(self, init, update):
        self.init = init
        self.update = update


def leafmap(f, *trees):
    return {k: f(*(t[k] for t in trees)) for k in trees[0]}


def stateless(fn):
    return T(lambda p: None, lambda u, s, p, **e: (fn(u, p, **e), None))


def chain(*txs):
    def init(p):
        return [tx.init(p) for tx in txs]

    def update(u, s, p, **extra):
        new = []
        for tx, st in zip(txs, s):
            u, st = tx.update(u, st, p, **extra)
            new.append(st)
        return u, new

    return T(init, update)


def zeros(p):
    return leafmap(np.zeros_like, p)


def full(p, v):
    return leafmap(lambda x: np.full_like(x, v), p)


def mom(g, m, b):
    return (1.0 - b) * g + b * m


def mom2(g, v, b):
    return (1.0 - b) * (g * g) + b * v


def bc(x, b, t):
    return x / (1.0 - b**t)


def sign(x):
    return np.sign(x)


def norm(x):
    return math.sqrt(float(np.sum(x * x)))


def safe_norm(x, min_norm):
    n = norm(x)
    return float(min_norm) if n <= min_norm else n


def scale(step):
    return stateless(lambda u, p, **e: leafmap(lambda g: step * g, u))


def scale_by_learning_rate(lr):
    return scale(-lr)


def add_decayed_weights(wd):
    if wd == 0.0:
        return stateless(lambda u, p, **e: u)
    return stateless(lambda u, p, **e: leafmap(lambda g, x: g + wd * x, u, p))


def identity():
    return stateless(lambda u, p, **e: u)


def adam_mu_hat(m, g, b1, t, nesterov):
    if nesterov:
        return b1 * (m / (1.0 - b1 ** (t + 1))) + (1.0 - b1) * (g / (1.0 - b1**t))
    return bc(m, b1, t)


def scale_by_adam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False):
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda g, v: mom2(g, v, b2), u, s["v"])
        out = leafmap(
            lambda m, v, g: adam_mu_hat(m, g, b1, t, nesterov) / (np.sqrt(bc(v, b2, t) + eps_root) + eps),
            m,
            v,
            u,
        )
        return out, {"t": t, "m": m, "v": v}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": zeros(p)}, update)


def scale_by_amsgrad(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, bias_correction_mu=True, bias_correction_nu=True):
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda g, v: mom2(g, v, b2), u, s["v"])
        m_hat = leafmap(lambda m: bc(m, b1, t) if bias_correction_mu else m, m)
        v_eff = leafmap(lambda v: bc(v, b2, t) if bias_correction_nu else v, v)
        vmax = leafmap(np.maximum, s["vmax"], v_eff)
        out = leafmap(lambda m, v: m / (np.sqrt(v + eps_root) + eps), m_hat, vmax)
        return out, {"t": t, "m": m, "v": v, "vmax": vmax}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": zeros(p), "vmax": zeros(p)}, update)


def scale_by_adamax(b1=0.9, b2=0.999, eps=1e-8):
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda g, v: np.maximum(np.abs(g) + eps, b2 * v), u, s["v"])
        out = leafmap(lambda m, v: bc(m, b1, t) / v, m, v)
        return out, {"t": t, "m": m, "v": v}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": zeros(p)}, update)


def scale_by_belief(b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, nesterov=False):
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda g, m, v: mom2(g - m, v, b2) + eps_root, u, m, s["v"])
        out = leafmap(
            lambda m, v, g: adam_mu_hat(m, g, b1, t, nesterov) / (np.sqrt(bc(v, b2, t)) + eps), m, v, u
        )
        return out, {"t": t, "m": m, "v": v}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": zeros(p)}, update)


def scale_by_yogi(b1=0.9, b2=0.999, eps=1e-3, eps_root=0.0, initial_accumulator_value=1e-6):
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda g, v: v - (1.0 - b2) * sign(v - g * g) * (g * g), u, s["v"])
        out = leafmap(lambda m, v: bc(m, b1, t) / (np.sqrt(bc(v, b2, t) + eps_root) + eps), m, v)
        return out, {"t": t, "m": m, "v": v}

    iav = initial_accumulator_value
    return T(lambda p: {"t": 0, "m": full(p, iav), "v": full(p, iav)}, update)


def scale_by_radam(b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, nesterov=False):
    ro_inf = 2.0 / (1.0 - b2) - 1.0

    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda g, v: mom2(g, v, b2), u, s["v"])
        b2t = b2**t
        ro = ro_inf - 2 * t * b2t / (1 - b2t)
        m_hat = leafmap(lambda m, g: adam_mu_hat(m, g, b1, t, nesterov), m, u)
        if ro >= threshold:
            r = math.sqrt((ro - 4.0) * (ro - 2.0) * ro_inf / ((ro_inf - 4.0) * (ro_inf - 2.0) * ro))
            out = leafmap(lambda m, v: r * m / (np.sqrt(bc(v, b2, t) + eps_root) + eps), m_hat, v)
        else:
            out = m_hat
        return out, {"t": t, "m": m, "v": v}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": zeros(p)}, update)


def scale_by_adan(b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=0.0):
    def update(u, s, p, **e):
        diff = leafmap(lambda g, gp: np.zeros_like(g) if s["t"] == 0 else g - gp, u, s["g"])
        m = leafmap(lambda g, m: mom(g, m, b1), u, s["m"])
        v = leafmap(lambda d, v: mom(d, v, b2), diff, s["v"])
        sq = leafmap(lambda g, d: g + (1 - b2) * d, u, diff)
        n = leafmap(lambda x, n: mom2(x, n, b3), sq, s["n"])
        t = s["t"] + 1
        out = leafmap(
            lambda m, v, n: (bc(m, b1, t) + (1 - b2) * bc(v, b2, t)) / (np.sqrt(bc(n, b3, t) + eps_root) + eps),
            m,
            v,
            n,
        )
        return out, {"t": t, "m": m, "v": v, "n": n, "g": u}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": zeros(p), "n": zeros(p), "g": zeros(p)}, update)


def scale_by_lion(b1=0.9, b2=0.99):
    def update(u, s, p, **e):
        out = leafmap(lambda g, m: sign((1.0 - b1) * g + b1 * m), u, s["m"])
        m = leafmap(lambda g, m: mom(g, m, b2), u, s["m"])
        return out, {"m": m}

    return T(lambda p: {"m": zeros(p)}, update)


def scale_by_rss(initial_accumulator_value=0.1, eps=1e-7):
    def update(u, s, p, **e):
        sos = leafmap(lambda g, t: g * g + t, u, s)
        inv = leafmap(lambda t: np.where(t > 0, 1.0 / np.sqrt(t + eps), 0.0), sos)
        return leafmap(lambda i, g: i * g, inv, u), sos

    return T(lambda p: full(p, initial_accumulator_value), update)


def scale_by_rms(decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False):
    def update(u, s, p, **e):
        t = s["t"] + 1
        v = leafmap(lambda g, v: mom2(g, v, decay), u, s["v"])
        v_hat = leafmap(lambda v: bc(v, decay, t), v) if bias_correction else v
        if eps_in_sqrt:
            sc = leafmap(lambda n: 1.0 / np.sqrt(n + eps), v_hat)
        else:
            sc = leafmap(lambda n: 1 / (np.sqrt(n) + eps), v_hat)
        return leafmap(lambda s, g: s * g, sc, u), {"t": t, "v": v}

    return T(lambda p: {"t": 0, "v": full(p, initial_scale)}, update)


def scale_by_stddev(decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, bias_correction=False):
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, decay), u, s["m"])
        v = leafmap(lambda g, v: mom2(g, v, decay), u, s["v"])
        if bias_correction:
            m_hat = leafmap(lambda m: bc(m, decay, t), m)
            v_hat = leafmap(lambda v: bc(v, decay, t), v)
        else:
            m_hat, v_hat = m, v
        if eps_in_sqrt:
            sc = leafmap(lambda m, n: 1.0 / np.sqrt(n - m * m + eps), m_hat, v_hat)
        else:
            sc = leafmap(lambda m, n: 1 / (np.sqrt(n - m * m) + eps), m_hat, v_hat)
        return leafmap(lambda s, g: s * g, sc, u), {"t": t, "m": m, "v": v}

    return T(lambda p: {"t": 0, "m": zeros(p), "v": full(p, initial_scale)}, update)


def scale_by_adadelta(rho=0.9, eps=1e-6):
    def update(u, s, p, **e):
        e_g = leafmap(lambda g, v: mom2(g, v, rho), u, s["e_g"])
        out = leafmap(lambda g, eg, ex: np.sqrt(ex + eps) / np.sqrt(eg + eps) * g, u, e_g, s["e_x"])
        e_x = leafmap(lambda x, v: mom2(x, v, rho), out, s["e_x"])
        return out, {"e_g": e_g, "e_x": e_x}

    return T(lambda p: {"e_g": zeros(p), "e_x": zeros(p)}, update)


def scale_by_rprop(learning_rate, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0):
    def update(u, s, p, **e):
        sg = leafmap(lambda g, pr: g * pr, u, s["prev"])
        steps = leafmap(
            lambda x, st: np.where(
                x == 0, st, np.clip(st * np.where(x > 0, eta_plus, eta_minus), min_step_size, max_step_size)
            ),
            sg,
            s["steps"],
        )
        prev = leafmap(lambda x, g, st: np.where(x < 0, 0.0, st * sign(g)), sg, u, steps)
        out = leafmap(lambda x, old: np.where(x < 0, 0.0, old), sg, s["prev"])
        return out, {"steps": steps, "prev": prev}

    return T(lambda p: {"steps": full(p, learning_rate), "prev": zeros(p)}, update)


def scale_by_sign():
    return stateless(lambda u, p, **e: leafmap(sign, u))


def scale_by_sm3(b1=0.9, b2=1.0, eps=1e-8):
    c0, c1 = (1.0 - b2 if b2 != 1.0 else 1.0, b2)

    def init(p):
        return {
            "mu": {k: [np.zeros(x.shape[i]) for i in range(x.ndim)] for k, x in p.items()},
            "nu": zeros(p),
        }

    def update(u, s, p, **e):
        acc = {}
        for k, g in u.items():
            mu = s["mu"][k]
            if g.ndim < 2:
                acc[k] = c0 * g**2 + c1 * mu[0]
            else:
                acc[k] = c0 * g**2 + c1 * np.minimum(mu[0][:, None], mu[1][None, :])
        inv = leafmap(lambda t: np.where(t > 0, 1.0 / np.sqrt(t + eps), 0.0), acc)
        up = leafmap(lambda g, a: g * a, u, inv)
        nu = leafmap(lambda x, v: mom(x, v, b1), up, s["nu"])
        new_mu = {k: ([a] if a.ndim < 2 else [a.max(axis=1), a.max(axis=0)]) for k, a in acc.items()}
        return nu, {"mu": new_mu, "nu": nu}

    return T(init, update)


def scale_by_novograd(b1=0.9, b2=0.25, eps=1e-8, eps_root=0.0, weight_decay=0.0):
    def update(u, s, p, **e):
        t = s["t"] + 1
        nu, mu = {}, {}
        for k, g in u.items():
            sq = norm(g) ** 2
            nu[k] = sq if t == 1 else (1 - b2) * sq + b2 * s["nu"][k]
            a = g / (math.sqrt(nu[k] + eps_root) + eps) + weight_decay * p[k]
            mu[k] = a if t == 1 else b1 * s["mu"][k] + a
        return mu, {"t": t, "nu": nu, "mu": mu}

    return T(lambda p: {"t": 0, "nu": {k: 0.0 for k in p}, "mu": zeros(p)}, update)


def scale_by_trust_ratio(min_norm=0.0, trust_coefficient=1.0, eps=0.0):
    def leaf(u, p):
        pn = safe_norm(p, min_norm)
        un = safe_norm(u, min_norm)
        ratio = trust_coefficient * pn / (un + eps)
        if pn == 0.0 or un == 0.0:
            ratio = 1.0
        return u * ratio

    return stateless(lambda u, p, **e: leafmap(leaf, u, p))


def scale_by_factored_rms(factored=True, decay_rate=0.8, step_offset=0, min_dim_size_to_factor=128, epsilon=1e-30):
    def factored_dims(shape):
        if not factored or len(shape) < 2:
            return None
        order = np.argsort(shape)
        if shape[order[-2]] < min_dim_size_to_factor:
            return None
        return int(order[-2]), int(order[-1])

    def init(p):
        return {"count": 0, "r": {}, "c": {}, "v": zeros(p)}

    def update(u, s, p, **e):
        beta = 1.0 - float(s["count"] - step_offset + 1) ** (-decay_rate)
        out, r, c, v = {}, {}, {}, {}
        for k, g in u.items():
            gs = g * g + epsilon
            dims = factored_dims(g.shape)
            if dims is not None:
                assert dims == (0, 1), dims  # the [3, 4] leaf: rows reduce over axis 1
                r0 = s["r"].get(k, np.zeros(g.shape[0]))
                c0_ = s["c"].get(k, np.zeros(g.shape[1]))
                r[k] = beta * r0 + (1.0 - beta) * np.mean(gs, axis=1)
                c[k] = beta * c0_ + (1.0 - beta) * np.mean(gs, axis=0)
                row_factor = (r[k] / np.mean(r[k])) ** (-0.5)
                col_factor = c[k] ** (-0.5)
                out[k] = g * row_factor[:, None] * col_factor[None, :]
                v[k] = s["v"][k]
            else:
                v[k] = beta * s["v"][k] + (1.0 - beta) * gs
                out[k] = g * v[k] ** (-0.5)
        return out, {"count": s["count"] + 1, "r": r, "c": c, "v": v}

    return T(init, update)


def clip_by_block_rms(threshold):
    return stateless(
        lambda u, p, **e: leafmap(lambda x: x / max(1.0, math.sqrt(np.mean(x * x)) / threshold), u)
    )


def scale_by_param_block_rms(min_scale=1e-3):
    def rms(x):
        r = math.sqrt(np.mean(x * x))
        return min_scale if r <= min_scale else r

    return stateless(lambda u, p, **e: leafmap(lambda g, x: g * rms(x), u, p))


def scale_by_optimistic_gradient(alpha=1.0, beta=1.0):
    def update(u, s, p, **e):
        out = leafmap(lambda g, pr: (alpha + beta) * g - beta * (g if s["first"] else pr), u, s["prev"])
        return out, {"first": False, "prev": u}

    return T(lambda p: {"first": True, "prev": zeros(p)}, update)


def scale_by_polyak(f_min=0.0, max_learning_rate=1.0, eps=0.0, variant="sps"):
    def fn(u, p, value, **e):
        n = 0.0
        for x in u.values():
            n += float(np.sum(x * x))
        gap = value - f_min
        if variant == "sps+":
            gap = max(gap, 0.0)
        step = 0.0 if n + eps <= np.finfo(float).eps else min(gap / (n + eps), max_learning_rate)
        return leafmap(lambda x: step * x, u)

    return stateless(fn)


def trace(decay, nesterov=False):
    def update(u, s, p, **e):
        t = leafmap(lambda g, t: g + decay * t, u, s)
        out = leafmap(lambda g, t: g + decay * t, u, t) if nesterov else t
        return out, t

    return T(zeros, update)


def ema(decay, debias=True, accumulator_float32=False):
    # accumulator_float32: optax's accumulator_dtype=float32 (adafactor's default dtype_momentum):
    # the new average is returned as computed, and stored rounded to float32.
    def update(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, decay), u, s["m"])
        out = leafmap(lambda m: bc(m, decay, t), m) if debias else m
        stored = leafmap(lambda m: m.astype(np.float32).astype(np.float64), m) if accumulator_float32 else m
        return out, {"t": t, "m": stored}

    return T(lambda p: {"t": 0, "m": zeros(p)}, update)


def centralize():
    return stateless(
        lambda u, p, **e: leafmap(lambda g: g - g.mean(axis=tuple(range(1, g.ndim)), keepdims=True) if g.ndim > 1 else g, u)
    )


def zero_nans():
    return stateless(lambda u, p, **e: leafmap(lambda g: np.where(np.isnan(g), 0.0, g), u))


# ---------------------------------------------------------------------------
# Aliases (optax's chains)
# ---------------------------------------------------------------------------


def adabelief(lr, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, weight_decay=None, nesterov=False):
    parts = [scale_by_belief(b1, b2, eps, eps_root, nesterov)]
    if weight_decay is not None:
        parts.append(add_decayed_weights(weight_decay))
    return chain(*parts, scale_by_learning_rate(lr))


def adadelta(lr, rho=0.9, eps=1e-6, weight_decay=0.0):
    return chain(add_decayed_weights(weight_decay), scale_by_adadelta(rho, eps), scale_by_learning_rate(lr))


def adafactor(lr, min_dim_size_to_factor=128, decay_rate=0.8, decay_offset=0, multiply_by_parameter_scale=True,
              clipping_threshold=1.0, momentum=None, weight_decay_rate=None, eps=1e-30, factored=True):
    tx = [scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        tx.append(clip_by_block_rms(clipping_threshold))
    if lr is not None:
        tx.append(scale(lr))
    if multiply_by_parameter_scale:
        tx.append(scale_by_param_block_rms())
    if momentum is not None:
        # optax's default dtype_momentum=float32 stores the momentum in float32.
        tx.append(ema(momentum, debias=False, accumulator_float32=True))
    if weight_decay_rate is not None:
        tx.append(add_decayed_weights(weight_decay_rate))
    tx.append(scale(-1))
    return chain(*tx)


def adagrad(lr, initial_accumulator_value=0.1, eps=1e-7):
    return chain(scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(lr))


def adam(lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=False):
    return chain(scale_by_adam(b1, b2, eps, eps_root, nesterov), scale_by_learning_rate(lr))


def adamw(lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, weight_decay=1e-4, nesterov=False):
    return chain(scale_by_adam(b1, b2, eps, eps_root, nesterov), add_decayed_weights(weight_decay), scale_by_learning_rate(lr))


def adamax(lr, b1=0.9, b2=0.999, eps=1e-8):
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(lr))


def adamaxw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    return chain(scale_by_adamax(b1, b2, eps), add_decayed_weights(weight_decay), scale_by_learning_rate(lr))


def adan(lr, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=1e-8, weight_decay=0.0):
    return chain(scale_by_adan(b1, b2, b3, eps, eps_root), add_decayed_weights(weight_decay), scale_by_learning_rate(lr))


def amsgrad(lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, bias_correction_mu=True, bias_correction_nu=True):
    return chain(scale_by_amsgrad(b1, b2, eps, eps_root, bias_correction_mu, bias_correction_nu), scale_by_learning_rate(lr))


def fromage(lr, min_norm=1e-6):
    mult = 1 / (1 + lr**2) ** 0.5
    return chain(scale_by_trust_ratio(min_norm), scale_by_learning_rate(lr * mult), add_decayed_weights(mult - 1))


def lamb(lr, b1=0.9, b2=0.999, eps=1e-6, eps_root=0.0, weight_decay=0.0):
    return chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(weight_decay), scale_by_trust_ratio(), scale_by_learning_rate(lr))


def lars(lr, weight_decay=0.0, trust_coefficient=0.001, eps=0.0, momentum=0.9, nesterov=False):
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps),
        scale_by_learning_rate(lr),
        trace(momentum, nesterov),
    )


def lion(lr, b1=0.9, b2=0.99, weight_decay=1e-3):
    return chain(scale_by_lion(b1, b2), add_decayed_weights(weight_decay), scale_by_learning_rate(lr))


def novograd(lr, b1=0.9, b2=0.25, eps=1e-6, eps_root=0.0, weight_decay=0.0):
    return chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay), scale_by_learning_rate(lr))


def optimistic_gradient_descent(lr, alpha=1.0, beta=1.0):
    return chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(lr))


def optimistic_adam_v2(lr, alpha=1.0, beta=1.0, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, nesterov=True):
    return chain(scale_by_adam(b1, b2, eps, eps_root, nesterov), scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(lr))


def sgd(lr, momentum=None, nesterov=False):
    return chain(trace(momentum, nesterov) if momentum is not None else identity(), scale_by_learning_rate(lr))


def polyak_sgd(max_learning_rate=1.0, scaling=1.0, f_min=0.0, eps=0.0, variant="sps"):
    return chain(sgd(scaling), scale_by_polyak(f_min, max_learning_rate, eps, variant))


def radam(lr, b1=0.9, b2=0.999, eps=1e-8, eps_root=0.0, threshold=5.0, nesterov=False):
    return chain(scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov), scale_by_learning_rate(lr))


def rmsprop(lr, decay=0.9, eps=1e-8, initial_scale=0.0, eps_in_sqrt=True, centered=False, momentum=None,
            nesterov=False, bias_correction=False):
    first = (scale_by_stddev if centered else scale_by_rms)(decay, eps, initial_scale, eps_in_sqrt, bias_correction)
    return chain(first, scale_by_learning_rate(lr), trace(momentum, nesterov) if momentum is not None else identity())


def rprop(lr, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0):
    return chain(scale_by_rprop(lr, eta_minus, eta_plus, min_step_size, max_step_size), scale(-1.0))


def sign_sgd(lr):
    return chain(scale_by_sign(), scale_by_learning_rate(lr))


def signum(lr, beta=0.9):
    return chain(ema(beta, debias=False), scale_by_sign(), scale_by_learning_rate(lr))


def sm3(lr, momentum=0.9):
    return chain(scale_by_sm3(momentum), scale(-lr))


def yogi(lr, b1=0.9, b2=0.999, eps=1e-3):
    return chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(lr))


# ---- contrib ---------------------------------------------------------------


class ScheduleFreeAdamw:
    """optax.contrib.schedule_free_adamw with a constant learning rate; keeps z
    so that ``eval_params`` can be reported."""

    def __init__(self, lr=0.0025, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, weight_lr_power=2.0):
        self.lr, self.b1, self.power = lr, b1, weight_lr_power
        self.base = chain(
            scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True),
            add_decayed_weights(weight_decay),
            scale_by_learning_rate(lr),
        )

    def init(self, p):
        return {"weight_sum": 0.0, "max_lr": 0.0, "base": self.base.init(p), "z": leafmap(np.copy, p)}

    def update(self, g, s, y, **e):
        b1 = self.b1
        max_lr = max(s["max_lr"], self.lr)
        weight = max_lr**self.power
        total = s["weight_sum"] + weight
        ck = weight / total
        u, base = self.base.update(g, s["base"], y)
        z = leafmap(lambda zi, ui: zi + ui, s["z"], u)
        prev_x = leafmap(lambda yi, zi: (yi - (1.0 - b1) * zi) / b1, y, s["z"])
        x = leafmap(lambda xi, zi: (1.0 - ck) * xi + ck * zi, prev_x, z)
        new_y = leafmap(lambda xi, zi: b1 * xi + (1.0 - b1) * zi, x, z)
        out = leafmap(lambda n, yi: n - yi, new_y, y)
        return out, {"weight_sum": total, "max_lr": max_lr, "base": base, "z": z}

    def eval_params(self, s, y):
        b1 = self.b1
        return leafmap(lambda yi, zi: (yi - (1.0 - b1) * zi) / b1, y, s["z"])


def newton_schulz(x, ns_steps, eps):
    transposed = x.shape[0] > x.shape[1]
    if transposed:
        x = x.T
    x = x / (np.sqrt(np.sum(x * x)) + eps)
    c0, c1, c2 = NS_COEFFS
    for _ in range(ns_steps):
        a = x @ x.T
        b = c1 * a + (c2 * a) @ a
        x = c0 * x + b @ x
    return x.T if transposed else x


def muon(lr, ns_steps=5, beta=0.95, eps=1e-8, weight_decay=0.0, nesterov=True, adaptive=False, adam_b1=0.9,
         adam_b2=0.999, adam_eps_root=0.0, adam_weight_decay=0.0, adam_learning_rate=None, consistent_rms=None):
    if adam_learning_rate is None:
        adam_learning_rate = lr

    def muon_dir(u, s, p, **e):
        t = s["t"] + 1
        m = leafmap(lambda g, m: mom(g, m, beta), u, s["m"])
        out = {}
        for k in u:
            m_hat = adam_mu_hat(m[k], u[k], beta, t, nesterov)
            o = newton_schulz(m_hat, ns_steps, eps)
            if adaptive:
                o = np.sum(m_hat * o) * o
            fan_in, fan_out = o.shape
            if consistent_rms is None:
                sc = math.sqrt(max(1, fan_out / fan_in))
            else:
                sc = math.sqrt(max(fan_in, fan_out)) * consistent_rms
            out[k] = sc * o
        return out, {"t": t, "m": m}

    muon_tx = chain(
        T(lambda p: {"t": 0, "m": zeros(p)}, muon_dir), add_decayed_weights(weight_decay), scale_by_learning_rate(lr)
    )
    adam_tx = adamw(adam_learning_rate, adam_b1, adam_b2, eps, adam_eps_root, adam_weight_decay, nesterov)

    def split(tree):
        two = {k: v for k, v in tree.items() if v.ndim == 2}
        rest = {k: v for k, v in tree.items() if v.ndim != 2}
        return two, rest

    def init(p):
        a, b = split(p)
        return {"muon": muon_tx.init(a), "adam": adam_tx.init(b)}

    def update(u, s, p, **e):
        ua, ub = split(u)
        pa, pb = split(p)
        oa, sa = muon_tx.update(ua, s["muon"], pa)
        ob, sb = adam_tx.update(ub, s["adam"], pb)
        return {**oa, **ob}, {"muon": sa, "adam": sb}

    return T(init, update)


# ---------------------------------------------------------------------------
# Cases: (name, members for optax-ts, the NumPy transformation)
# ---------------------------------------------------------------------------


def m(fn, *args):
    return {"fn": fn, "args": list(args)}


LR = m("scaleByLearningRate", 0.05)
lr_tx = lambda: scale_by_learning_rate(0.05)  # noqa: E731


def cases():
    C = []

    def add(name, members, tx, **kw):
        C.append(dict(name=name, members=members, tx=tx, **kw))

    add("adabelief_default", [m("adabelief", 0.01)], lambda: adabelief(0.01))
    add("adabelief_wd_nesterov", [m("adabelief", 0.02, {"b1": 0.8, "b2": 0.99, "eps": 1e-10, "epsRoot": 1e-12, "weightDecay": 0.01, "nesterov": True})],
        lambda: adabelief(0.02, 0.8, 0.99, 1e-10, 1e-12, 0.01, True))
    add("adadelta", [m("adadelta", 0.5, {"rho": 0.8, "eps": 1e-4, "weightDecay": 0.01})], lambda: adadelta(0.5, 0.8, 1e-4, 0.01))
    add("adafactor_factored", [m("adafactor", 0.05, {"minDimSizeToFactor": 2, "decayRate": 0.7, "decayOffset": 0, "multiplyByParameterScale": True, "clippingThreshold": 1.5, "momentum": 0.8, "weightDecayRate": 0.001, "eps": 1e-20, "factored": True})],
        lambda: adafactor(0.05, 2, 0.7, 0, True, 1.5, 0.8, 0.001, 1e-20, True))
    add("adafactor_unfactored", [m("adafactor", 0.1, {"decayRate": 0.9, "decayOffset": 0, "multiplyByParameterScale": False, "clippingThreshold": None, "factored": False})],
        lambda: adafactor(0.1, 128, 0.9, 0, False, None, None, None, 1e-30, False))
    add("adagrad", [m("adagrad", 0.2, {"initialAccumulatorValue": 0.05, "eps": 1e-6})], lambda: adagrad(0.2, 0.05, 1e-6))
    add("adam_default", [m("adam", 0.01)], lambda: adam(0.01))
    add("adam_nesterov_epsroot", [m("adam", 0.03, {"b1": 0.8, "b2": 0.95, "eps": 1e-6, "epsRoot": 1e-10, "nesterov": True})],
        lambda: adam(0.03, 0.8, 0.95, 1e-6, 1e-10, True))
    add("adamax", [m("adamax", 0.02, {"b1": 0.85, "b2": 0.99, "eps": 1e-6})], lambda: adamax(0.02, 0.85, 0.99, 1e-6))
    add("adamaxw", [m("adamaxw", 0.02, {"b1": 0.85, "b2": 0.99, "eps": 1e-6, "weightDecay": 0.05})], lambda: adamaxw(0.02, 0.85, 0.99, 1e-6, 0.05))
    add("adamw_default", [m("adamw", 0.01)], lambda: adamw(0.01))
    add("adamw_wd", [m("adamw", 0.02, {"b1": 0.85, "b2": 0.98, "eps": 1e-7, "epsRoot": 1e-9, "weightDecay": 0.05})],
        lambda: adamw(0.02, 0.85, 0.98, 1e-7, 1e-9, 0.05))
    add("adan", [m("adan", 0.02, {"b1": 0.9, "b2": 0.85, "b3": 0.95, "eps": 1e-6, "epsRoot": 1e-9, "weightDecay": 0.01})],
        lambda: adan(0.02, 0.9, 0.85, 0.95, 1e-6, 1e-9, 0.01))
    add("amsgrad", [m("amsgrad", 0.03, {"b1": 0.8, "b2": 0.9, "eps": 1e-6, "epsRoot": 1e-9})], lambda: amsgrad(0.03, 0.8, 0.9, 1e-6, 1e-9))
    add("amsgrad_no_bias_correction", [m("amsgrad", 0.03, {"b1": 0.8, "b2": 0.9, "biasCorrectionMu": False, "biasCorrectionNu": False})],
        lambda: amsgrad(0.03, 0.8, 0.9, 1e-8, 0.0, False, False))
    add("fromage", [m("fromage", 0.05, {"minNorm": 1e-4})], lambda: fromage(0.05, 1e-4))
    add("lamb", [m("lamb", 0.02, {"b1": 0.85, "b2": 0.99, "eps": 1e-5, "epsRoot": 1e-9, "weightDecay": 0.01})],
        lambda: lamb(0.02, 0.85, 0.99, 1e-5, 1e-9, 0.01))
    add("lars", [m("lars", 0.5, {"weightDecay": 0.01, "trustCoefficient": 0.01, "eps": 1e-6, "momentum": 0.8, "nesterov": True})],
        lambda: lars(0.5, 0.01, 0.01, 1e-6, 0.8, True))
    add("lion_default", [m("lion", 0.003)], lambda: lion(0.003))
    add("lion_b1_0.8", [m("lion", 0.003, {"b1": 0.8, "b2": 0.95, "weightDecay": 0.01})], lambda: lion(0.003, 0.8, 0.95, 0.01))
    add("nadam", [m("nadam", 0.02, {"b1": 0.85, "b2": 0.99, "eps": 1e-7, "epsRoot": 1e-10})], lambda: adam(0.02, 0.85, 0.99, 1e-7, 1e-10, True))
    add("nadamw", [m("nadamw", 0.02, {"b1": 0.85, "b2": 0.99, "eps": 1e-7, "weightDecay": 0.02})],
        lambda: adamw(0.02, 0.85, 0.99, 1e-7, 0.0, 0.02, True))
    add("novograd", [m("novograd", 0.05, {"b1": 0.85, "b2": 0.5, "eps": 1e-5, "epsRoot": 1e-9, "weightDecay": 0.01})],
        lambda: novograd(0.05, 0.85, 0.5, 1e-5, 1e-9, 0.01))
    add("optimistic_gradient_descent", [m("optimisticGradientDescent", 0.05, {"alpha": 0.8, "beta": 0.6})],
        lambda: optimistic_gradient_descent(0.05, 0.8, 0.6))
    add("optimistic_adam_v2", [m("optimisticAdamV2", 0.01, {"alpha": 0.9, "beta": 0.5, "b1": 0.85, "b2": 0.99, "eps": 1e-7})],
        lambda: optimistic_adam_v2(0.01, 0.9, 0.5, 0.85, 0.99, 1e-7))
    add("polyak_sgd_sps", [m("polyakSgd", 0.2, {"scaling": 0.8, "fMin": -0.01, "eps": 1e-6})], lambda: polyak_sgd(0.2, 0.8, -0.01, 1e-6), polyak=True)
    add("polyak_sgd_sps_plus", [m("polyakSgd", 2.0, {"scaling": 1.0, "fMin": 0.3, "eps": 0.0, "variant": "sps+"})],
        lambda: polyak_sgd(2.0, 1.0, 0.3, 0.0, "sps+"), polyak=True)
    add("radam", [m("radam", 0.02, {"b1": 0.85, "b2": 0.95, "eps": 1e-7, "epsRoot": 1e-10, "threshold": 4.0})],
        lambda: radam(0.02, 0.85, 0.95, 1e-7, 1e-10, 4.0))
    add("rmsprop_default", [m("rmsprop", 0.01)], lambda: rmsprop(0.01))
    add("rmsprop_plain", [m("rmsprop", 0.01, {"decay": 0.8, "eps": 1e-6, "initialScale": 0.1})], lambda: rmsprop(0.01, 0.8, 1e-6, 0.1))
    add("rmsprop_centered", [m("rmsprop", 0.01, {"decay": 0.8, "eps": 1e-6, "initialScale": 1.0, "centered": True})],
        lambda: rmsprop(0.01, 0.8, 1e-6, 1.0, centered=True))
    add("rmsprop_momentum_nesterov", [m("rmsprop", 0.01, {"decay": 0.85, "eps": 1e-7, "momentum": 0.7, "nesterov": True})],
        lambda: rmsprop(0.01, 0.85, 1e-7, momentum=0.7, nesterov=True))
    add("rmsprop_eps_outside_sqrt", [m("rmsprop", 0.01, {"decay": 0.8, "eps": 1e-4, "epsInSqrt": False})],
        lambda: rmsprop(0.01, 0.8, 1e-4, eps_in_sqrt=False))
    add("rmsprop_bias_correction", [m("rmsprop", 0.01, {"decay": 0.8, "eps": 1e-6, "biasCorrection": True})],
        lambda: rmsprop(0.01, 0.8, 1e-6, bias_correction=True))
    add("rmsprop_centered_bias_correction_momentum", [m("rmsprop", 0.01, {"decay": 0.8, "eps": 1e-6, "initialScale": 1.0, "epsInSqrt": False, "centered": True, "momentum": 0.5, "biasCorrection": True})],
        lambda: rmsprop(0.01, 0.8, 1e-6, 1.0, False, True, 0.5, False, True))
    add("rprop", [m("rprop", 0.02, {"etaMinus": 0.4, "etaPlus": 1.3, "minStepSize": 1e-5, "maxStepSize": 0.5})],
        lambda: rprop(0.02, 0.4, 1.3, 1e-5, 0.5))
    add("sgd_default", [m("sgd", 0.05)], lambda: sgd(0.05))
    add("sgd_momentum", [m("sgd", 0.05, {"momentum": 0.8})], lambda: sgd(0.05, 0.8))
    add("sgd_nesterov", [m("sgd", 0.05, {"momentum": 0.7, "nesterov": True})], lambda: sgd(0.05, 0.7, True))
    add("sign_sgd", [m("signSgd", 0.01)], lambda: sign_sgd(0.01))
    add("signum", [m("signum", 0.01, {"beta": 0.8})], lambda: signum(0.01, 0.8))
    add("sm3", [m("sm3", 0.1, {"momentum": 0.8})], lambda: sm3(0.1, 0.8))
    add("yogi", [m("yogi", 0.05, {"b1": 0.85, "b2": 0.99, "eps": 1e-4})], lambda: yogi(0.05, 0.85, 0.99, 1e-4))
    add("schedule_free_adamw", [m("scheduleFreeAdamw", 0.02, {"b1": 0.85, "b2": 0.99, "eps": 1e-7, "weightDecay": 0.01, "weightLrPower": 1.5})],
        lambda: ScheduleFreeAdamw(0.02, 0.85, 0.99, 1e-7, 0.01, 1.5), schedule_free=True)
    add("schedule_free_adamw_default", [m("scheduleFreeAdamw", 0.0025)], lambda: ScheduleFreeAdamw(0.0025), schedule_free=True)
    add("muon_default", [m("muon", 0.02)], lambda: muon(0.02))
    add("muon_options", [m("muon", 0.02, {"nsSteps": 4, "beta": 0.9, "eps": 1e-7, "weightDecay": 0.01, "nesterov": False, "adaptive": True, "adamB1": 0.85, "adamB2": 0.99, "adamEpsRoot": 1e-10, "adamWeightDecay": 0.02, "adamLearningRate": 0.01, "consistentRms": 0.2})],
        lambda: muon(0.02, 4, 0.9, 1e-7, 0.01, False, True, 0.85, 0.99, 1e-10, 0.02, 0.01, 0.2))
    # transformations, each followed by scaleByLearningRate(0.05) unless it scales itself
    add("scaleByRms", [m("scaleByRms", {"decay": 0.85, "eps": 1e-6, "initialScale": 0.01, "epsInSqrt": False, "biasCorrection": True}), LR],
        lambda: chain(scale_by_rms(0.85, 1e-6, 0.01, False, True), lr_tx()))
    add("scaleByStddev", [m("scaleByStddev", {"decay": 0.8, "eps": 1e-6, "initialScale": 0.5}), LR],
        lambda: chain(scale_by_stddev(0.8, 1e-6, 0.5), lr_tx()))
    add("scaleByBelief", [m("scaleByBelief", {"b1": 0.8, "b2": 0.95, "eps": 1e-12, "epsRoot": 1e-14}), LR],
        lambda: chain(scale_by_belief(0.8, 0.95, 1e-12, 1e-14), lr_tx()))
    add("scaleByAdam_trustRatio", [m("scaleByAdam", {"b1": 0.8, "b2": 0.95}), m("scaleByTrustRatio", {"minNorm": 0.5, "trustCoefficient": 0.5, "eps": 1e-3}), LR],
        lambda: chain(scale_by_adam(0.8, 0.95), scale_by_trust_ratio(0.5, 0.5, 1e-3), lr_tx()))
    add("scaleByAmsgrad", [m("scaleByAmsgrad", {"b1": 0.85, "b2": 0.9, "eps": 1e-6, "epsRoot": 1e-12, "biasCorrectionMu": False}), LR],
        lambda: chain(scale_by_amsgrad(0.85, 0.9, 1e-6, 1e-12, False, True), lr_tx()))
    add("scaleByLion", [m("scaleByLion", {"b1": 0.7, "b2": 0.9}), m("scaleByLearningRate", 0.01)],
        lambda: chain(scale_by_lion(0.7, 0.9), scale_by_learning_rate(0.01)))
    add("scaleByFactoredRms", [m("scaleByFactoredRms", {"factored": True, "decayRate": 0.6, "stepOffset": 0, "minDimSizeToFactor": 3, "epsilon": 1e-12}), LR],
        lambda: chain(scale_by_factored_rms(True, 0.6, 0, 3, 1e-12), lr_tx()))
    add("scaleByAdadelta", [m("scaleByAdadelta", {"rho": 0.7, "eps": 1e-5}), m("scaleByLearningRate", 1.0)],
        lambda: chain(scale_by_adadelta(0.7, 1e-5), scale_by_learning_rate(1.0)))
    add("scaleByRprop", [m("scaleByRprop", 0.03, {"etaMinus": 0.3, "etaPlus": 1.5, "minStepSize": 1e-4, "maxStepSize": 0.2}), m("scaleByLearningRate", 1.0)],
        lambda: chain(scale_by_rprop(0.03, 0.3, 1.5, 1e-4, 0.2), scale_by_learning_rate(1.0)))
    add("scaleBySm3", [m("scaleBySm3", {"b1": 0.7, "b2": 0.9, "eps": 1e-6}), m("scaleByLearningRate", 0.1)],
        lambda: chain(scale_by_sm3(0.7, 0.9, 1e-6), scale_by_learning_rate(0.1)))
    add("scaleByNovograd", [m("scaleByNovograd", {"b1": 0.8, "b2": 0.4, "eps": 1e-6, "epsRoot": 1e-8, "weightDecay": 0.02}), LR],
        lambda: chain(scale_by_novograd(0.8, 0.4, 1e-6, 1e-8, 0.02), lr_tx()))
    add("scaleByYogi", [m("scaleByYogi", {"b1": 0.8, "b2": 0.95, "eps": 1e-5, "epsRoot": 1e-9, "initialAccumulatorValue": 0.01}), LR],
        lambda: chain(scale_by_yogi(0.8, 0.95, 1e-5, 1e-9, 0.01), lr_tx()))
    add("ema_debias", [m("ema", 0.8, {"debias": True}), LR], lambda: chain(ema(0.8, True), lr_tx()))
    add("ema_no_debias", [m("ema", 0.7, {"debias": False}), LR], lambda: chain(ema(0.7, False), lr_tx()))
    add("centralize_sgd", [m("centralize"), m("trace", 0.5), LR], lambda: chain(centralize(), trace(0.5), lr_tx()))
    add("zeroNans_sgd", [m("zeroNans"), LR], lambda: chain(zero_nans(), lr_tx()))
    return C


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def make_leaves(seed):
    rs = np.random.RandomState(seed)
    leaves = {}
    for k, shape in SHAPES.items():
        n = int(np.prod(shape))
        a = np.exp(rs.uniform(math.log(0.1), math.log(10.0), n))
        c = rs.normal(0.0, 1.0, n)
        p0 = rs.normal(0.0, 1.5, n)
        a[rs.choice(n, 2 if n > 6 else 1, replace=False)] = 0.0
        leaves[k] = {"shape": list(shape), "p0": p0, "a": a, "c": c}
    return leaves


def loss_value(p, leaves):
    s = 0.0
    for k in SHAPES:
        a, c = leaves[k]["a"], leaves[k]["c"]
        for pi, ai, ci in zip(p[k].ravel(), a, c):
            d = pi - ci
            s += (ai * d) * d
    return 0.5 * s


def snake(name):
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def py_value(v):
    if v is None or isinstance(v, bool):
        return str(v)
    return repr(v)


def optax_expr(members):
    """The optax expression a case's members stand for (for readers of the fixture)."""
    calls = []
    for mem in members:
        fn = snake(mem["fn"])
        prefix = "optax.contrib." if fn in ("schedule_free_adamw", "muon") else "optax."
        args = []
        for a in mem["args"]:
            if isinstance(a, dict):
                args += [f"{snake(k)}={py_value(v)}" for k, v in a.items()]
            else:
                args.append(py_value(a))
        calls.append(f"{prefix}{fn}({', '.join(args)})")
    return calls[0] if len(calls) == 1 else f"optax.chain({', '.join(calls)})"


def run(case, leaves, steps):
    tx = case["tx"]()
    p = {k: leaves[k]["p0"].reshape(SHAPES[k]).copy() for k in SHAPES}
    a = {k: leaves[k]["a"].reshape(SHAPES[k]) for k in SHAPES}
    c = {k: leaves[k]["c"].reshape(SHAPES[k]) for k in SHAPES}
    state = tx.init(p)
    params = {k: [] for k in SHAPES}
    evals = {k: [] for k in SHAPES}
    values = []
    for _ in range(steps):
        g = {k: a[k] * (p[k] - c[k]) for k in SHAPES}
        extra = {"value": loss_value(p, leaves)} if case.get("polyak") else {}
        if extra:
            values.append(extra["value"])
        u, state = tx.update(g, state, p, **extra)
        p = {k: p[k] + u[k] for k in SHAPES}
        for k in SHAPES:
            assert np.all(np.isfinite(p[k])), (case["name"], k)
            params[k].append([float(x) for x in p[k].ravel()])
        if case.get("schedule_free"):
            ev = tx.eval_params(state, p)
            for k in SHAPES:
                evals[k].append([float(x) for x in ev[k].ravel()])
    out = {}
    if case.get("schedule_free"):
        out["eval_params"] = evals
    if case.get("polyak"):
        out["value"] = values
    return params, out


def main():
    out_cases = []
    names = set()
    for i, case in enumerate(cases()):
        assert case["name"] not in names, case["name"]
        names.add(case["name"])
        leaves = make_leaves(1000 + i)
        params, extra = run(case, leaves, STEPS)
        entry = {
            "name": case["name"],
            "members": case["members"],
            "optax": optax_expr(case["members"]),
            "steps": STEPS,
            "leaves": {
                k: {"shape": v["shape"], "p0": v["p0"].tolist(), "a": v["a"].tolist(), "c": v["c"].tolist()}
                for k, v in leaves.items()
            },
            "params": params,
        }
        if extra:
            entry["extra"] = extra
        out_cases.append(entry)
    doc = {
        "generator": "scripts/reference_catalogue.py",
        "command": COMMAND,
        "numpy_version": np.__version__,
        "python_version": "%d.%d.%d" % sys.version_info[:3],
        "optax_commit": OPTAX_COMMIT,
        "dtype": "float64",
        "gradient": "g = a * (p - c) per leaf, elementwise; loss = 0.5 * sum over all leaves of a * (p - c)^2",
        "loss": "0.5 * s, s = left-to-right sum of (a * d) * d, d = p - c, over w's flat elements then b's",
        "step_convention": "params[leaf][i] is the flat row-major leaf after step i + 1; leaves[leaf].p0 is before the first",
        "extra": "eval_params[leaf][i] (schedule-free): schedule_free_eval_params after step i + 1; value[i] (polyak_sgd): the loss at the params before step i + 1, passed as update(g, state, p, { value })",
        "cases": out_cases,
    }
    text = json.dumps(doc, separators=(",", ":"))
    # one case per line keeps diffs readable
    text = text.replace(',{"name":', ',\n{"name":').replace('"cases":[{', '"cases":[\n{')
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print(f"wrote {OUT}: {len(out_cases)} cases, {len(text) // 1024} KiB")


if __name__ == "__main__":
    main()
