"""Walsh–Fourier analysis on {-1,+1}^n: exact transforms and Monte Carlo correlation estimates.

Convention (O'Donnell): chi_T(x) = prod_{i in T} x_i, f^(T) = E_x[f(x) chi_T(x)], x uniform.
Truth tables and coefficient vectors share one indexing: entry b <-> the point x with
x_i = -1 iff bit i of b is set, and <-> the subset T = {i : bit i of b is set}.

Public API:

* :func:`walsh_hadamard` (table (2^n,) -> all 2^n coefficients; Numba FWHT, O(n 2^n));
* :func:`exact_coefficients` (callable on the cube -> all coefficients), :func:`cube`;
* :func:`correlations` (f values at samples x, list of subsets -> ``Estimate`` of E[f chi_T]);
* :func:`support_spectrum` (all 2^k subsets of a support in one pass);
* subset helpers: :func:`subsets_mask`, :func:`subset_index`, :func:`index_subset`,
  :func:`in_support_subsets`, :func:`random_off_support_subsets`, :func:`chi`.

Paper: Panigrahi et al. (ICLR 2025), §3: the correlation probe |mean(chi_T(x) p(x))|.
"""
from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Sequence
from numbers import Integral

import numba
import numpy as np

from . import _kernels
from .parity import check_generator, check_pm1
from .stats import Estimate

__all__ = [
    "walsh_hadamard",
    "exact_coefficients",
    "cube",
    "chi",
    "correlations",
    "support_spectrum",
    "subsets_mask",
    "subset_index",
    "index_subset",
    "in_support_subsets",
    "random_off_support_subsets",
    "probe_subsets",
]


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def _as_int(value, name: str, lo: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; got {name}={value!r} ({type(value).__name__}).")
    value = int(value)
    if lo is not None and value < lo:
        raise ValueError(f"{name} must be an int >= {lo}; got {name}={value}.")
    return value


def _finite_vector(f, name: str, m: int | None = None) -> np.ndarray:
    arr = np.asarray(f)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
                                   or arr.dtype == bool):
        raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (m,); got shape {arr.shape}.")
    if m is not None and arr.shape[0] != m:
        raise ValueError(f"{name} must have one value per sample, shape ({m},); got shape {arr.shape}.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite (no NaN/inf); got {arr[i].item()!r} at index {i}.")
    return arr


def _scaled(f: np.ndarray) -> tuple[np.ndarray, float]:
    """(f / 2^e, 2^e) with max|f / 2^e| in [1/2, 1) when max|f| lies outside [2^-400, 2^400], else (f, 1).

    Scaling by a power of two is exact, so sums and squares computed from the scaled values and
    multiplied back equal the unscaled ones wherever those do not overflow (sum f^2 is inf for
    |f| ~ 1e155) or underflow (0 for |f| ~ 1e-155)."""
    amax = float(np.max(np.abs(f))) if f.size else 0.0
    if amax == 0.0 or 2.0**-400 <= amax <= 2.0**400:
        return f, 1.0
    scale = math.ldexp(1.0, math.frexp(amax)[1])
    return f / scale, scale


def _samples(x, name: str = "x") -> np.ndarray:
    """x as a C-contiguous int8 (m, n) array (validated later, inside the packing kernel)."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (m, n) with entries in {{-1, +1}}; got shape {arr.shape}.")
    if arr.dtype != np.int8:
        arr = check_pm1(arr, name)  # validates before the cast (e.g. 255 -> -1 must not slip through)
    return np.ascontiguousarray(arr)


#: below this many elementary operations a kernel runs on one thread when ``threads`` is None
#: (thread start-up costs more than it saves, badly so on a loaded machine)
SERIAL_BELOW = 1 << 22


@contextlib.contextmanager
def _threads(threads, work: int = SERIAL_BELOW):
    """Run Numba kernels with ``threads`` threads, thread-locally. None: Numba's current setting,
    or 1 thread when ``work`` (a rough operation count) is below SERIAL_BELOW."""
    if threads is None and work >= SERIAL_BELOW:
        yield
        return
    t = 1 if threads is None else _as_int(threads, "threads", lo=1)
    t = min(t, numba.config.NUMBA_NUM_THREADS)
    old = numba.get_num_threads()
    numba.set_num_threads(t)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _raise_bad_pm1(x: np.ndarray, name: str = "x"):
    check_pm1(x, name)  # raises with the location of the first bad entry
    raise ValueError(f"{name} must have entries in {{-1, +1}}.")  # pragma: no cover


# ----------------------------------------------------------------------------------------------
# exact transforms
# ----------------------------------------------------------------------------------------------
def walsh_hadamard(values, *, inplace: bool = False, threads: int | None = None) -> np.ndarray:
    """All Fourier coefficients of a truth table: f^(T) = 2^-n sum_x f(x) chi_T(x).

    values: shape (2^n,), entry b = f(x) with x_i = -1 iff bit i of b is set. Returns float64
    (2^n,), entry b = f^(T) with T = {i : bit i of b}. O(n 2^n) in-place Numba FWHT on a copy;
    ``inplace=True`` transforms ``values`` itself (must then be a writable C-contiguous float64
    array) and returns it, which halves peak memory. The transform is its own inverse up to a
    factor 2^n: walsh_hadamard(walsh_hadamard(v)) = v / 2^n. ``threads``: Numba threads for
    this call (default: Numba's setting; 1 is often faster on a loaded, shared machine).
    """
    if isinstance(values, np.ndarray):
        arr = values
    else:
        arr = np.asarray(values)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
        raise TypeError(f"values must be a real numeric array; got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(f"values must be a 1-D truth table of length 2^n; got shape {arr.shape}.")
    N = arr.shape[0]
    if N < 1 or N & (N - 1):
        raise ValueError(f"values must have length 2^n (a power of two, >= 1); got length {N}.")
    n = N.bit_length() - 1
    if inplace:
        if arr.dtype != np.float64 or not arr.flags.c_contiguous or not arr.flags.writeable:
            raise ValueError(
                "values must be a writable C-contiguous float64 array for inplace=True; "
                f"got dtype {arr.dtype}, contiguous={arr.flags.c_contiguous}, writeable={arr.flags.writeable}."
            )
        out = arr
    else:
        try:
            out = np.array(arr, dtype=np.float64, copy=True, order="C")
        except MemoryError:
            raise MemoryError(
                f"walsh_hadamard: a float64 copy of a table with n={n} ({8 * N / 2**30:.1f} GiB) does not fit "
                "in memory; pass a float64 array with inplace=True, or use a smaller n."
            ) from None
    if not np.isfinite(out).all():
        i = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(f"values must be finite (no NaN/inf); got {out[i].item()!r} at index {i}.")
    # partial sums reach N max|v|: divide by N (a power of two: exact) before the butterflies when
    # that would overflow (inf - inf = NaN), after them otherwise (the same numbers when neither overflows)
    early = N > 1 and out.size and float(np.max(np.abs(out))) >= math.ldexp(1.0, 1023 - n)
    if early:
        out *= 1.0 / N
    with _threads(threads, work=N * max(n, 1)):
        _kernels.fwht_inplace(out)
    if not early:
        out *= 1.0 / N
    return out


def cube(n: int) -> np.ndarray:
    """All 2^n points of {-1,+1}^n as int8 (2^n, n); row b has x_i = -1 iff bit i of b is set."""
    n = _as_int(n, "n", lo=0)
    if n > 26:
        raise ValueError(f"n must be <= 26 to enumerate the cube (2^n * n bytes); got n={n}.")
    b = np.arange(1 << n, dtype=np.int64)[:, None]
    bits = (b >> np.arange(n, dtype=np.int64)) & 1
    return (1 - 2 * bits).astype(np.int8)


def exact_coefficients(func, n: int) -> np.ndarray:
    """All 2^n Fourier coefficients of ``func`` on {-1,+1}^n (exact, by enumeration).

    func: called once as func(X) with X = cube(n), int8 (2^n, n); must return 2^n real values.
    Returns float64 (2^n,), entry b = f^({i : bit i of b}). Practical up to n ~ 24.
    """
    if not callable(func):
        raise TypeError(f"func must be callable on an int8 (2^n, n) array; got {type(func).__name__}.")
    X = cube(n)
    vals = np.asarray(func(X))
    if vals.shape != (X.shape[0],):
        raise ValueError(f"func(X) must return shape ({X.shape[0]},) for X = cube({n}); got shape {vals.shape}.")
    return walsh_hadamard(vals)


def chi(x, subset) -> np.ndarray:
    """chi_T(x) = prod_{i in T} x_i for each row of x (int8 (m, n)); returns int8 (m,)."""
    x = check_pm1(x, "x")
    mask = np.zeros(x.shape[1], dtype=bool)
    mask[list(_support_tuple(subset, "subset", n=x.shape[1]))] = True
    return np.prod(x[:, mask], axis=1, dtype=np.int8)


# ----------------------------------------------------------------------------------------------
# subsets
# ----------------------------------------------------------------------------------------------
def subsets_mask(subsets, n: int) -> np.ndarray:
    """Subsets as a boolean (J, n) mask. ``subsets``: a (J, n) boolean array, or a sequence of
    index tuples (each index an int in [0, n-1], no repeats; () is the empty set, chi = 1)."""
    n = _as_int(n, "n", lo=0)
    if isinstance(subsets, np.ndarray) and subsets.ndim == 2:
        if subsets.dtype != bool:
            raise TypeError(f"subsets given as an array must be a boolean (J, n) mask; got dtype {subsets.dtype}.")
        if subsets.shape[1] != n:
            raise ValueError(f"subsets mask must have shape (J, n) with n={n}; got shape {subsets.shape}.")
        return subsets
    if isinstance(subsets, (str, bytes)) or not isinstance(subsets, (Sequence, np.ndarray)):
        raise TypeError(
            f"subsets must be a sequence of index tuples or a boolean (J, n) array; got {type(subsets).__name__}."
        )
    mask = np.zeros((len(subsets), n), dtype=bool)
    for j, T in enumerate(subsets):
        mask[j, list(_support_tuple(T, f"subsets[{j}]", n=n))] = True
    return mask


def subset_index(subset) -> int:
    """Index b = sum_{i in T} 2^i of subset T in a coefficient vector (inverse of index_subset)."""
    b = 0
    for i in subset:
        i = _as_int(i, "subset index", lo=0)
        if b >> i & 1:
            raise ValueError(f"subset must not repeat indices; got {tuple(subset)!r}.")
        b |= 1 << i
    return b


def index_subset(b: int, n: int | None = None) -> tuple[int, ...]:
    """The subset T = {i : bit i of b} as a sorted tuple (inverse of subset_index)."""
    b = _as_int(b, "b", lo=0)
    if n is not None and b >> _as_int(n, "n", lo=0):
        raise ValueError(f"b must be < 2^n = {1 << n}; got b={b}.")
    return tuple(i for i in range(b.bit_length()) if b >> i & 1)


def _support_tuple(support, name: str = "support", n: int | None = None) -> tuple[int, ...]:
    """``support`` as a sorted tuple of distinct ints in [0, n-1] (or >= 0 without n); TypeError / ValueError otherwise."""
    try:
        items = list(support)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints; got {support!r} ({type(support).__name__}).") from None
    for i in items:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, Integral):
            raise TypeError(f"{name} must hold ints; got {i!r} ({type(i).__name__}) in {tuple(items)!r}.")
        if n is not None and not 0 <= i < n:
            raise ValueError(f"{name} indices must lie in [0, n-1] = [0, {n - 1}]; got {i} in {tuple(items)!r}.")
        if i < 0:
            raise ValueError(f"{name} indices must be >= 0; got {i} in {tuple(items)!r}.")
    out = tuple(sorted(int(i) for i in items))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat indices; got {tuple(items)!r}.")
    return out


def in_support_subsets(support, degree: int | None = None) -> list[tuple[int, ...]]:
    """All subsets of ``support`` (of the given degree, or all nonempty ones if None), sorted."""
    support = _support_tuple(support)
    degrees = range(1, len(support) + 1) if degree is None else [_as_int(degree, "degree", lo=0)]
    return [T for d in degrees for T in itertools.combinations(support, d)]


def random_off_support_subsets(n: int, support, degree: int, count: int, rng: np.random.Generator,
                               *, disjoint: bool = False, allow_fewer: bool = False) -> list[tuple[int, ...]]:
    """``count`` distinct random subsets T of {0..n-1} with |T| = degree that are NOT subsets of S.

    Default (``disjoint=False``): T is uniform over the C(n, d) - C(k, d) subsets of size d with
    T not contained in S (T may share some indices with S) — the natural "off-support" set for a
    probe whose in-support set is {T : T subset of S}; chi_S has zero correlation with all of them.
    ``disjoint=True``: T is uniform over subsets of the n - k coordinates outside S.
    Returns sorted tuples, in draw order. If fewer than ``count`` such subsets exist, raises
    ValueError, or with ``allow_fewer=True`` returns all of them in random order (e.g. degree 1 at
    n = 100, k = 6 has only 94 off-support subsets, the paper asks for 100).
    """
    n = _as_int(n, "n", lo=1)
    degree = _as_int(degree, "degree", lo=1)
    count = _as_int(count, "count", lo=0)
    check_generator(rng)
    S = np.zeros(n, dtype=bool)
    S[list(_support_tuple(support, "support", n=n))] = True
    k = int(S.sum())
    if degree > n:
        raise ValueError(f"degree must be <= n={n}; got degree={degree}.")
    pool_n = n - k if disjoint else n
    available = math.comb(pool_n, degree) - (0 if disjoint else math.comb(k, degree))
    if count > available and allow_fewer:
        count = available
    if count > available:
        raise ValueError(
            f"count must be <= {available} (the number of {'disjoint' if disjoint else 'off-support'} subsets "
            f"of size {degree} with n={n}, k={k}); got count={count}."
        )
    pool = np.flatnonzero(~S) if disjoint else np.arange(n)
    out: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    if available <= 4 * count + 64:  # dense request: enumerate and choose
        cands = [T for T in itertools.combinations(pool.tolist(), degree) if not S[list(T)].all()]
        pick = rng.choice(len(cands), size=count, replace=False)
        return [cands[int(i)] for i in pick]
    while len(out) < count:  # sparse request: rejection sampling (acceptance > 3/4)
        T = tuple(sorted(int(i) for i in rng.choice(pool, size=degree, replace=False)))
        if T in seen or (not disjoint and S[list(T)].all()):
            continue
        seen.add(T)
        out.append(T)
    return out


def probe_subsets(n: int, support, rng: np.random.Generator, per_degree: int = 100,
                  degrees=None, *, disjoint: bool = False) -> dict[int, tuple[list, list]]:
    """The paper's correlation probe: {d: (in-support T of degree d, random off-support T of degree d)}.

    In-support: all C(k, d) subsets of S. Off-support: ``per_degree`` random subsets of size d
    that are not subsets of S (all of them when fewer exist; see random_off_support_subsets).
    degrees default to 1..k-1 (docs/paper.md §2: degrees 1..5 for k = 6; T = S itself is degree k).
    """
    sup = _support_tuple(support)
    degrees = range(1, len(sup)) if degrees is None else degrees
    return {int(d): (in_support_subsets(sup, d),
                     random_off_support_subsets(n, sup, d, per_degree, rng, disjoint=disjoint, allow_fewer=True))
            for d in degrees}


# ----------------------------------------------------------------------------------------------
# Monte Carlo estimates
# ----------------------------------------------------------------------------------------------
def _estimate(sums: np.ndarray, sum_sq: float, m: int, scale: float = 1.0) -> Estimate:
    """mean = scale * sums / m; stderr = scale * sqrt((sum_sq / m - (sums/m)^2) * m / (m - 1)) / sqrt(m).

    Uses E[(f chi_T)^2] = E[f^2] (chi^2 = 1), so one second moment serves all subsets.
    stderr is the sample standard deviation (ddof=1) over sqrt(m); inf when m = 1. ``sums`` and
    ``sum_sq`` are of f / scale (see _scaled), so nothing here overflows for finite f.
    """
    mean = sums / m
    if m < 2:
        return Estimate(mean=mean * scale, stderr=np.full_like(mean, np.inf))
    var = np.maximum(sum_sq / m - mean * mean, 0.0) * (m / (m - 1))
    return Estimate(mean=mean * scale, stderr=np.sqrt(var / m) * scale)


def correlations(f, x, subsets, *, threads: int | None = None) -> Estimate:
    """Monte Carlo Fourier coefficients: mean[j] = (1/m) sum_s f_s chi_{T_j}(x_s).

    f: real (m,) — the function's values at the samples (e.g. a teacher's class-1 probability);
    x: (m, n) in {-1,+1} (int8 is fastest); subsets: sequence of J index tuples (() -> chi = 1)
    or a boolean (J, n) mask. Returns Estimate(mean (J,), stderr (J,)) with
    stderr[j] = sample std of f_s chi_{T_j}(x_s) (ddof=1) / sqrt(m).
    Numba kernels: x is packed once into bit planes (64 samples per word), chi_T for 64 samples
    is the XOR of |T| words, and sums of f over the selected samples come from per-byte lookup
    tables; parallel over sample blocks. O(m n + m J (|T| + 16) / 64). ``threads`` as in
    :func:`walsh_hadamard`.
    """
    xs = _samples(x)
    m, n = xs.shape
    fs = _finite_vector(f, "f", m)
    mask = subsets_mask(subsets, n)
    if m == 0:
        raise ValueError("x must hold at least one sample; got m=0.")
    indptr, indices = _kernels.csr_from_bool(mask)
    with _threads(threads, work=m * (n + len(mask) // 4)):
        planes, n_bad = _kernels.pack_planes(xs)
        if n_bad:
            _raise_bad_pm1(xs)
        fs, scale = _scaled(fs)
        sums = _kernels.corr_sums(fs, planes, indptr, indices)
    return _estimate(sums, float(np.sum(fs * fs)), m, scale)  # not np.dot: BLAS threads spin


def support_spectrum(f, x, support, *, threads: int | None = None) -> Estimate:
    """All 2^k in-support coefficients at once: mean[b] = (1/m) sum_s f_s chi_{T_b}(x_s).

    T_b = {support[i] : bit i of b is set} (order of ``support`` as given; b = 0 is T = ()).
    One pass groups f by the pattern of x over the support (sums G[p]), then
    mean = FWHT(G) / m (O(m k + k 2^k)); stderr as in :func:`correlations` (shared E[f^2]).
    Equals ``correlations(f, x, [T_b for b])`` up to float rounding. Returns Estimate of (2^k,).
    """
    xs = _samples(x)
    m, n = xs.shape
    fs = _finite_vector(f, "f", m)
    if m == 0:
        raise ValueError("x must hold at least one sample; got m=0.")
    try:
        sup = list(support)
    except TypeError:
        raise TypeError(f"support must be a sequence of ints; got {support!r}.") from None
    _support_tuple(sup, "support", n=n)  # validates ints, range, no repeats (order kept: sup as given)
    k = len(sup)
    if k > 26:
        raise ValueError(f"support must have k <= 26 indices (2^k coefficients); got k={k}.")
    fs, scale = _scaled(fs)
    with _threads(threads, work=m * n + (1 << k) * k):
        sums, sum_sq, n_bad = _kernels.pattern_sums(fs, xs, np.asarray(sup, dtype=np.int64))
        if n_bad or _kernels.count_not_pm1(xs):
            _raise_bad_pm1(xs)
        _kernels.fwht_inplace(sums)
    return _estimate(sums, float(sum_sq), m, scale)
