"""The named bounds: one factory per statement, its derivation or source in the docstring."""
from __future__ import annotations

import inspect

import numpy as np
import sympy as sp

from ._core import SYMBOLS as _S
from ._core import _np_lbinom, Bound, B, a_log, c, d, delta, eps, j, k, leap, rho, s, tau
from .gf2 import _ge_exact, _ge_grid

# --------------------------------------------------------------------------------------------
# The bounds
# --------------------------------------------------------------------------------------------
_PAPER = "Panigrahi, Liu, Malladi, Risteski, Goel, 'Progressive distillation induces an implicit curriculum', ICLR 2025, Sec. 3 (arXiv 2410.05464)"
_KD = {"k <= d": (sp.Le(k, d), "support size at most the dimension")}


def _paper_progressive() -> Bound:
    """Progressive (2-stage) distillation, upper bound on samples [RECALLED, unverified].

    N <= C_prog * (2^k d^2 / eps^2 + k^3) * log(d)^a_log  -- recalled form O~(2^k d^2 eps^-2 + k^3)
    for a one-hidden-layer student of width ~ 2^Theta(k) trained in two stages (an intermediate
    teacher checkpoint, then the final teacher; the paper's Algorithm 1) to loss eps on
    (d, k)-sparse parity. The exact constants, width, activation and learning rates are unknown;
    the statement has NOT been checked against the paper's PDF (docs/paper.md §4).
    """
    return Bound(
        "paper_progressive",
        _S["C_prog"] * (2**k * d**2 / eps**2 + k**3) * sp.log(d) ** a_log,
        "samples", "upper", "recalled", _PAPER + " -- Algorithm 1 (2-stage training), theorem (recalled)",
        inspect.getdoc(_paper_progressive),
        conditions=(_KD["k <= d"],),
        defaults={"C_prog": 1, "a_log": 0},
        monotone={"d": 1, "eps": -1, "k": 1},
        short_citation='Panigrahi et al. ICLR 2025, Sec. 3 (recalled)',
        algorithm="2-stage progressive distillation, one-hidden-layer student of width 2^Theta(k)",
    )


def _paper_one_shot() -> Bound:
    """One-shot distillation (and CE on labels), lower bound on samples [RECALLED, unverified].

    N >= C_one * d^min(2c, k-1). The plain recalled form is Omega(d^(k-1)) (one-shot from the
    final teacher, whose low-degree correlations vanish, or the labels). Refined form: if the final
    teacher keeps a residual low-degree correlation of order d^(-c), the lower bound is
    Omega(d^min(2c, k-1)) -- the residual signal can be exploited with ~ d^(2c) samples, as in
    support recovery with rho = d^(-c). Default c = oo gives the plain form.
    Recalled from the paper (docs/paper.md §4); exact statement unverified.
    """
    return Bound(
        "paper_one_shot",
        _S["C_one"] * d ** sp.Min(2 * c, k - 1),
        "samples", "lower", "recalled", _PAPER + " -- one-shot / CE lower bound (recalled)",
        inspect.getdoc(_paper_one_shot),
        conditions=(_KD["k <= d"],),
        defaults={"C_one": 1, "c": sp.oo},
        monotone={"d": 1},
        short_citation='Panigrahi et al. ICLR 2025, Sec. 3 (recalled)',
        algorithm="one-shot distillation from the final teacher (or CE), same student class as paper_progressive",
    )


def _support_recovery() -> Bound:
    """Support recovery by thresholding empirical correlations [PROVED HERE].

    Setting: samples (x_t, y_t), x_t uniform on {-1,+1}^d, y_t a (possibly random) output with
    |y_t| <= B, whose correlation c_T = E[y chi_T(x)] with the degree-j monomials satisfies
    |c_T| >= rho for T in the target family (e.g. subsets of S) and c_T = 0 for every other
    T with |T| = j. Estimator: ĉ_T = (1/N) sum_t y_t chi_T(x_t); output {T : |ĉ_T| > rho/2}.

    Derivation. Z_t = y_t chi_T(x_t) lies in [-B, B] (range 2B), so by Hoeffding
        P(|ĉ_T - c_T| >= rho/2) <= 2 exp(-2 N (rho/2)^2 / (2B)^2) = 2 exp(-N rho^2 / (8 B^2)).
    If every one of the C(d, j) degree-j estimates is within rho/2 of its mean, thresholding at
    rho/2 is exactly right (in-family |ĉ_T| > rho - rho/2; others |ĉ_T| < rho/2). Union bound:
        P(error) <= 2 C(d, j) exp(-N rho^2 / (8 B^2)) <= delta
        <=>  N >= (8 B^2 / rho^2) ln(2 C(d, j) / delta).

    Outputs in [0, 1] (a teacher's probability, or {0,1} samples of it): B = 1, giving the
    stated N >= (8/rho^2) ln(2 C(d, j)/delta), rho the coefficient of the [0,1]-valued f.
    Outputs in [-1, 1]: B = 1 again, rho the coefficient of the [-1,1]-valued g. Honest
    comparison: g = 2f - 1 has coefficients 2 f^(T) (T nonempty), so in terms of the [0,1]
    coefficient rho_f the [-1,1] form reads N >= (2/rho_f^2) ln(2C(d,j)/delta) -- 4x fewer. The
    same gain is available for [0,1] outputs by centering: y - 1/2 lies in [-1/2, 1/2] and has the
    same nonempty coefficients, i.e. B = 1/2. The uncentered [0,1] estimator pays the factor 4.
    """
    return Bound(
        "support_recovery",
        8 * B**2 / rho**2 * sp.log(2 * sp.binomial(d, j) / delta),
        "samples", "upper", "proved-here",
        "this toolkit (Hoeffding + union bound over C(d, j) monomials); setting of docs/paper.md §4",
        inspect.getdoc(_support_recovery),
        conditions=((sp.Le(j, d), "signal degree at most the dimension"),
                    (sp.Le(rho, B), "a coefficient of a function bounded by B is at most B")),
        defaults={"B": 1},
        monotone={"d": 1, "delta": -1, "rho": -1},
        short_citation='this toolkit: Hoeffding + union bound',
        algorithm="threshold empirical degree-j correlations at rho/2",
    )


def _info_theoretic() -> Bound:
    """Information-theoretic lower bound on samples: N >= log2 C(d, k).

    Each noiseless labelled sample carries at most one bit about S, and S is one of C(d, k)
    subsets, so identifying S with certainty needs log2 C(d, k) samples (counting argument;
    with failure probability delta, Fano gives N >= (1 - delta) log2 C(d, k) - 1). Applies to
    every algorithm that sees (x, chi_S(x)) pairs. ~ k log2(d/k).
    """
    return Bound(
        "info_theoretic",
        sp.log(sp.binomial(d, k)) / sp.log(2),
        "samples", "lower", "literature",
        "counting / Fano argument (standard; e.g. Cover & Thomas, Elements of Information Theory, Fano's inequality)",
        inspect.getdoc(_info_theoretic),
        conditions=(_KD["k <= d"],),
        monotone={"d": 1},
        short_citation='counting / Fano',
        algorithm="any learner from labelled samples",
    )


def _gaussian_elimination() -> Bound:
    """Gaussian elimination over GF(2): exact smallest N with P[the N inputs span GF(2)^d] >= 1 - delta.

    Write labels as b = <s, x> over GF(2) (x in {0,1}^d the bits of the +-1 input, s the
    indicator of S). The solutions form s + ker(X); S is determined (and elimination outputs it)
    iff rank X = d. Choice documented: success = rank d. Sparsity is NOT used (a learner that
    knows |S| = k can need fewer samples, cf. info_theoretic); any other consistent parity has
    error exactly 1/2, so for eps < 1/2 exact identification is what learning requires.

    P[rank d] = P[the d columns of the N x d matrix are independent]
              = prod_{i=0}^{d-1} (1 - 2^i / 2^N) = prod_{i=0}^{d-1} (1 - 2^(i-N))   (N >= d),
    since column i+1 must avoid the 2^i vectors spanned by the first i. ``evaluate(d=, delta=)``
    returns the smallest N with P >= 1 - delta, exactly. With t = ceil(log2(1/delta)):
    P(N) <= 1 - 2^-(N-d+1) (the smallest factor), so N >= d - 1 + t is necessary; and
    1 - P(N) <= sum_i 2^(i-N) < 2^(d-N), so N = d + t suffices: the answer is d - 1 + t or d + t.
    ``expr`` is the closed form d + log2(1/delta) (within 1 of the exact answer); ``probability``
    is available as ``gf2_span_probability(N, d)``. Time O(d^3); not an SQ algorithm.
    """
    return Bound(
        "gaussian_elimination",
        d + sp.log(1 / delta) / sp.log(2),
        "samples", "upper", "proved-here",
        "classical count of full-rank matrices over GF(2) (derivation in doc); the algorithm is textbook Gaussian elimination",
        inspect.getdoc(_gaussian_elimination),
        monotone={"d": 1, "delta": -1},
        short_citation='GF(2) full-rank count',
        algorithm="Gaussian elimination over GF(2) on labelled samples (not SQ)",
        exact=_ge_exact,
        grid=_ge_grid,
    )


def _sq_lower() -> Bound:
    """Statistical-query lower bound: q >= C_sq * C(d, k) * tau^2 queries at tolerance tau.

    The C(d, k) parities are pairwise orthogonal, so the SQ dimension of k-sparse parities is
    C(d, k); an SQ learner with tolerance tau needs on the order of C(d, k) tau^2 queries (the
    usual quoted form Omega(d^k) at constant tau). Hidden constant C_sq (default 1).
    """
    return Bound(
        "sq_lower",
        _S["C_sq"] * sp.binomial(d, k) * tau**2,
        "queries", "lower", "literature",
        "Blum, Furst, Jackson, Kearns, Mansour, Rudich, 'Weakly learning DNF and characterizing statistical query learning using Fourier analysis', STOC 1994; Kearns, JACM 1998",
        inspect.getdoc(_sq_lower),
        conditions=(_KD["k <= d"],),
        defaults={"C_sq": 1},
        monotone={"d": 1},
        short_citation='Blum et al. STOC 1994',
        algorithm="any statistical-query learner",
    )


def _kou2024() -> Bound:
    """(Sign) SGD on a 2-layer net with 2^Theta(k) neurons: N <= C_kou * d^(k-1) * log(d)^a_log.

    Stated as O~(d^(k-1)) samples for k <= O(sqrt(d)) (checked as k <= sqrt(d)), matching the SQ
    lower bound. Hidden constant C_kou (default 1); log(d)**a_log is the polylog factor hidden by
    O-tilde (a_log default 0: leading term only).
    """
    return Bound(
        "kou2024",
        _S["C_kou"] * d ** (k - 1) * sp.log(d) ** a_log,
        "samples", "upper", "literature",
        "Kou, Chen, Gu, Kakade, 'Matching the statistical query lower bound for k-sparse parity problems with sign stochastic gradient descent', NeurIPS 2024",
        inspect.getdoc(_kou2024),
        conditions=((sp.Le(k, sp.sqrt(d)), "k <= O(sqrt(d)), hidden constant taken as 1"),),
        defaults={"C_kou": 1, "a_log": 0},
        monotone={"d": 1},
        short_citation='Kou, Chen, Gu, Kakade NeurIPS 2024',
        algorithm="SGD on a two-layer network from labels (same class as paper_one_shot's CE)",
    )



def _barak2022() -> Bound:
    """SGD learns (d, k)-sparse parity in d^O(k) iterations: T <= d^(C_barak * k).

    'Hidden progress': SGD on neural networks makes no visible progress for a long time, then
    learns; iterations n^O(k) (n = d here). The constant in the exponent is C_barak (default 1).
    """
    return Bound(
        "barak2022",
        d ** (_S["C_barak"] * k),
        "steps", "upper", "literature",
        "Barak, Edelman, Goel, Kakade, Malach, Zhang, 'Hidden progress in deep learning: SGD learns parities near the computational limit', NeurIPS 2022",
        inspect.getdoc(_barak2022),
        conditions=(_KD["k <= d"],),
        defaults={"C_barak": 1},
        monotone={"d": 1},
        short_citation='Barak et al. NeurIPS 2022',
        algorithm="SGD on neural networks from labels",
    )


def _leap() -> Bound:
    """Leap complexity: time Theta~(d^max(Leap, 2)) for SGD on 2-layer nets; a k-parity has Leap k.

    T = C_leap * d^max(leap, 2) * log(d)^a_log (time = SGD steps x d, i.e. about d^(max(leap,2)-1)
    samples). Stated in the paper as a conjecture for functions of low-dimensional support,
    proved for a class of functions on Gaussian data under technical assumptions on SGD.
    Default leap = k (a k-sparse parity has leap k).
    """
    return Bound(
        "leap",
        _S["C_leap"] * d ** sp.Max(leap, 2) * sp.log(d) ** a_log,
        "time", "tight", "literature",
        "Abbe, Boix-Adsera, Misiakiewicz, 'SGD learning on neural networks: leap complexity and saddle-to-saddle dynamics', COLT 2023 (conjecture; proved for a subclass)",
        inspect.getdoc(_leap),
        conditions=((sp.Le(leap, d), "leap at most the dimension"),),
        defaults={"C_leap": 1, "a_log": 0, "leap": k},
        monotone={"d": 1},
        short_citation='Abbe, Boix-Adsera, Misiakiewicz COLT 2023',
        algorithm="online SGD on two-layer networks",
    )


def _edelman2023() -> Bound:
    """Width for sparse initialisation: m >= ln(1/delta) * C(d, s) / C(d-k, s-k) [PROVED HERE].

    A neuron initialised on s >= k random coordinates covers S with probability
    p = C(d-k, s-k) / C(d, s). With m independent neurons, P(no neuron covers S) = (1 - p)^m
    <= exp(-p m) <= delta  iff  m >= ln(1/delta) / p. This is the width side of Edelman et al.'s
    width x samples trade-off (a covering neuron then faces an s-dimensional problem; see
    ``edelman2023_samples``, recalled). s = d gives m >= ln(1/delta) (dense init).
    """
    return Bound(
        "edelman2023",
        sp.log(1 / delta) * sp.binomial(d, s) / sp.binomial(d - k, s - k),
        "width", "upper", "proved-here",
        "Edelman, Goel, Kakade, Malach, Zhang, 'Pareto frontiers in neural feature learning: data, compute, width, and luck', NeurIPS 2023 (setting); covering argument in doc",
        inspect.getdoc(_edelman2023),
        conditions=((sp.Le(k, s), "each neuron must see at least k coordinates"),
                    (sp.Le(s, d), "at most d coordinates")),
        monotone={"d": 1, "delta": -1},
        short_citation='Edelman et al. NeurIPS 2023 + covering',
        algorithm="two-layer network with s-sparse initialisation (at least one neuron covering S)",
        grid=_edelman2023_grid,
    )


def _edelman2023_grid(vals):
    """ln(1/delta) C(d, s) / C(d-k, s-k) on arrays, as ln(1/delta) exp(log C(d, k) - log C(s, k)).

    The same number (C(d, s) C(s, k) = C(d, k) C(d-k, s-k): choose s of d, then k of those s); the
    log-binomials are of size k log d, where log C(d, s) is of size d: at d = 1e9, s = d/2 float64
    lost six digits to that cancellation (and C(2000, 1000) overflowed: inf / inf).
    """
    d_, s_, k_, dl = vals["d"], vals["s"], vals["k"], vals["delta"]
    return -np.log(dl) * np.exp(_np_lbinom(d_, k_) - _np_lbinom(s_, k_))


def _edelman2023_samples() -> Bound:
    """Samples for a covering neuron under s-sparse init [RECALLED, form reconstructed].

    N <= C_edel * s^(k-1) * log(d)^a_log: a neuron that covers S faces a k-parity in s
    dimensions, whose SGD sample cost is ~ s^(k-1) (as in kou2024 with d -> s); with
    edelman2023's width this is the width x samples trade-off (s = d: width ~ 1, samples
    ~ d^(k-1); s = k: width ~ C(d, k), samples ~ k^(k-1) polylog). Form reconstructed from the
    trade-off, NOT checked against the paper.
    """
    return Bound(
        "edelman2023_samples",
        _S["C_edel"] * s ** (k - 1) * sp.log(d) ** a_log,
        "samples", "upper", "recalled",
        "Edelman, Goel, Kakade, Malach, Zhang, NeurIPS 2023 (trade-off; exact statement unverified)",
        inspect.getdoc(_edelman2023_samples),
        conditions=((sp.Le(k, s), "each neuron must see at least k coordinates"),
                    (sp.Le(s, d), "at most d coordinates")),
        defaults={"C_edel": 1, "a_log": 0},
        monotone={},
        short_citation='Edelman et al. NeurIPS 2023 (recalled)',
        algorithm="two-layer network with s-sparse initialisation",
    )


_FACTORIES = [_paper_progressive, _paper_one_shot, _support_recovery, _info_theoretic, _gaussian_elimination,
              _sq_lower, _kou2024, _barak2022, _leap, _edelman2023, _edelman2023_samples]
_BOUNDS: dict[str, Bound] = {b.name: b for b in (f() for f in _FACTORIES)}


def names() -> list[str]:
    """Stable names of all bounds, in documentation order."""
    return list(_BOUNDS)


def get(name) -> Bound:
    """The bound called ``name`` (a Bound passes through). Raises ValueError listing the names."""
    if isinstance(name, Bound):
        return name
    if not isinstance(name, str):
        raise TypeError(f"bounds.get: name must be a str; got {type(name).__name__}.")
    try:
        return _BOUNDS[name]
    except KeyError:
        raise ValueError(f"bounds.get: unknown bound {name!r}; known: {', '.join(_BOUNDS)}.") from None


def all() -> list[Bound]:  # noqa: A001 - the documented API name
    """All bounds, in documentation order."""
    return list(_BOUNDS.values())
