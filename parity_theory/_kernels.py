"""Numba loops behind :mod:`parity_theory.fourier`, each with a plain-numpy twin (``*_numpy``).

Conventions (O'Donnell): chi_T(x) = prod_{i in T} x_i, x in {-1,+1}^n.

* bit planes ``planes`` uint64 (n, ceil(m/64)): bit t of planes[i, w] is set <=> x[64w+t, i] == -1,
  so the bits of chi_T over 64 samples are the XOR of |T| words;
* subsets in CSR form (indptr (J+1,), indices): T_j = indices[indptr[j]:indptr[j+1]].

All kernels use ``cache=True`` and exactly one type signature each (float64 values, int8 samples,
uint64 words, int64 indices) to keep JIT time low. Parallel reductions are split into a fixed
set of sample blocks/chunks whose partial sums are added in order, so results do not depend on
the number of threads.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "fwht_inplace",
    "fwht_numpy",
    "pack_planes",
    "pack_planes_numpy",
    "count_not_pm1",
    "csr_from_bool",
    "corr_sums",
    "corr_sums_numpy",
    "pattern_sums",
    "pattern_sums_numpy",
]

#: samples per block in the parallel reductions (x block of W * 4096 * 8 bytes stays in L2)
BLOCK = 4096
#: FWHT stages with stride < FWHT_TILE are done tile by tile (a tile of 8 KiB doubles fits in L1)
FWHT_TILE = 1 << 10


# ----------------------------------------------------------------------------------------------
# Fast Walsh–Hadamard transform (unnormalised): v[T] <- sum_b v[b] * (-1)^{|T & b|}
# ----------------------------------------------------------------------------------------------
@nb.njit(cache=True, parallel=True, nogil=True)
def fwht_inplace(v):  # pragma: no cover - compiled
    """Unnormalised in-place FWHT of a float64 array of length N = 2^n; O(n 2^n), returns v."""
    N = v.shape[0]
    tile = FWHT_TILE if N >= FWHT_TILE else N
    # stages with stride h < tile: independent tiles, each in L1
    for t in nb.prange(N // tile):
        base = t * tile
        h = 1
        while h < tile:
            for start in range(base, base + tile, 2 * h):
                for i in range(start, start + h):
                    a = v[i]
                    b = v[i + h]
                    v[i] = a + b
                    v[i + h] = a - b
            h *= 2
    # the remaining stages: pairs (i, i + h) across tiles
    h = tile
    while h < N:
        for p in nb.prange(N // (2 * h)):
            start = p * 2 * h
            for i in range(start, start + h):
                a = v[i]
                b = v[i + h]
                v[i] = a + b
                v[i + h] = a - b
        h *= 2
    return v


def fwht_numpy(v: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`fwht_inplace` (returns a new array; unnormalised)."""
    v = np.array(v, dtype=np.float64, copy=True)
    N = v.shape[0]
    h = 1
    while h < N:
        w = v.reshape(-1, 2, h)
        a = w[:, 0, :].copy()
        b = w[:, 1, :]
        w[:, 0, :] = a + b
        w[:, 1, :] = a - b
        h *= 2
    return v


# ----------------------------------------------------------------------------------------------
# Packing {-1,+1} samples into bit planes (bit-sliced: one bit per sample)
# ----------------------------------------------------------------------------------------------
@nb.njit(cache=True, parallel=True, nogil=True)
def pack_planes(x):  # pragma: no cover - compiled
    """x int8 (m, n) in {-1,+1} -> (planes uint64 (n, ceil(m/64)), n_bad int64).

    Bit t of planes[i, w] is set iff x[64 w + t, i] == -1 (padding bits beyond m are 0).
    ``n_bad`` counts entries that are neither -1 nor +1 (the caller raises if non-zero).
    """
    m, n = x.shape
    nw = (m + 63) // 64
    planes = np.zeros((n, nw), dtype=np.uint64)
    bad = np.zeros(nw, dtype=np.int64)
    for w in nb.prange(nw):
        acc = np.zeros(n, dtype=np.uint64)
        nbad = 0
        for t in range(min(64, m - 64 * w)):
            s = 64 * w + t
            sh = np.uint64(t)
            for i in range(n):
                v = x[s, i]
                acc[i] |= np.uint64(v == -1) << sh
                nbad += (v != 1) & (v != -1)
        for i in range(n):
            planes[i, w] = acc[i]
        bad[w] = nbad
    return planes, bad.sum()


def pack_planes_numpy(x: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`pack_planes` (no validation): uint64 (n, ceil(m/64))."""
    x = np.asarray(x)
    m, n = x.shape
    nw = (m + 63) // 64
    neg = np.zeros((nw * 64, n), dtype=np.uint64)
    neg[:m] = x == -1
    shifts = np.arange(64, dtype=np.uint64)[None, :, None]
    return np.bitwise_or.reduce(neg.reshape(nw, 64, n) << shifts, axis=1).T.copy()


@nb.njit(cache=True, parallel=True, nogil=True)
def count_not_pm1(x):  # pragma: no cover - compiled
    """Number of entries of x int8 (m, n) that are neither -1 nor +1 (one parallel pass)."""
    m = x.shape[0]
    nblocks = (m + BLOCK - 1) // BLOCK
    bad = np.zeros(nblocks, dtype=np.int64)
    for blk in nb.prange(nblocks):
        c = 0
        for s in range(blk * BLOCK, min(m, blk * BLOCK + BLOCK)):
            for i in range(x.shape[1]):
                v = x[s, i]
                c += (v != 1) & (v != -1)
        bad[blk] = c
    return bad.sum()


def csr_from_bool(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (J, n) subset mask -> (indptr int64 (J+1,), indices int64 (nnz,)): T_j =
    indices[indptr[j]:indptr[j+1]]."""
    mask = np.asarray(mask, dtype=bool)
    indptr = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    return indptr, np.nonzero(mask)[1].astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Correlations: S_j = sum_s f_s * chi_{T_j}(x_s), bit-sliced
# ----------------------------------------------------------------------------------------------
#: words (of 64 samples) per block: the block's byte tables (8 * WORDS_PER_BLOCK, 256) float64
#: take 128 KiB and stay in L2 while every subset is scanned
WORDS_PER_BLOCK = 8
BYTE = np.uint64(255)
#: the sample blocks are split into at most this many fixed chunks (one partial sum row each)
MAX_CHUNKS = 64


@nb.njit(cache=True, parallel=True, nogil=True)
def corr_sums(f, planes, indptr, indices):  # pragma: no cover - compiled
    """S[j] = sum_s f[s] * chi_{T_j}(x_s), float64 (J,); T_j = indices[indptr[j]:indptr[j+1]].

    f float64 (m,); planes uint64 (n, ceil(m/64)) from :func:`pack_planes`. Bit-sliced: for 64
    samples at once, P = XOR_{i in T_j} planes[i, w] holds the bits [chi_{T_j}(x_s) = -1]; then
    S_j = sum_s f_s - 2 sum_{s : P bit set} f_s, where the second sum takes 8 lookups per word in
    per-byte tables tab[g, b] = sum of f over the samples of byte-group g selected by b (built
    once per block of 512 samples: 32 adds per sample). Cost ~ m J (|T| + 16) / 64 operations.
    Parallel over a fixed split of the blocks into chunks (thread-count independent result).
    """
    n, nw = planes.shape
    m = f.shape[0]
    J = indptr.shape[0] - 1
    WB = WORDS_PER_BLOCK
    nblocks = (nw + WB - 1) // WB
    nchunks = min(nblocks, MAX_CHUNKS)
    partial = np.zeros((nchunks, J), dtype=np.float64)
    for c in nb.prange(nchunks):
        tab = np.empty((WB * 8, 256), dtype=np.float64)
        for blk in range(c * nblocks // nchunks, (c + 1) * nblocks // nchunks):
            w0 = blk * WB
            w1 = min(nw, w0 + WB)
            for g in range((w1 - w0) * 8):
                base = w0 * 64 + g * 8
                tab[g, 0] = 0.0
                for t in range(8):
                    fv = f[base + t] if base + t < m else 0.0
                    h = 1 << t
                    for b in range(h):
                        tab[g, b | h] = tab[g, b] + fv
            for j in range(J):
                # 8 independent accumulators (one per byte lane): the adds are not one serial chain
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
                q0 = indptr[j]
                q1 = indptr[j + 1]
                for w in range(w0, w1):
                    P = np.uint64(0)
                    for q in range(q0, q1):
                        P ^= planes[indices[q], w]
                    g = (w - w0) * 8
                    a0 += tab[g, P & BYTE]
                    a1 += tab[g + 1, (P >> np.uint64(8)) & BYTE]
                    a2 += tab[g + 2, (P >> np.uint64(16)) & BYTE]
                    a3 += tab[g + 3, (P >> np.uint64(24)) & BYTE]
                    a4 += tab[g + 4, (P >> np.uint64(32)) & BYTE]
                    a5 += tab[g + 5, (P >> np.uint64(40)) & BYTE]
                    a6 += tab[g + 6, (P >> np.uint64(48)) & BYTE]
                    a7 += tab[g + 7, P >> np.uint64(56)]
                partial[c, j] += ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    out = np.zeros(J, dtype=np.float64)
    for c in range(nchunks):
        for j in range(J):
            out[j] += partial[c, j]
    total = 0.0
    for s in range(m):
        total += f[s]
    for j in range(J):
        out[j] = total - 2.0 * out[j]
    return out


def corr_sums_numpy(f: np.ndarray, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`corr_sums` on the unpacked inputs: x int8 (m, n), mask bool (J, n)."""
    f = np.asarray(f, dtype=np.float64)
    x = np.asarray(x)
    out = np.empty(len(mask), dtype=np.float64)
    for j, row in enumerate(np.asarray(mask, dtype=bool)):
        chi = np.prod(x[:, row].astype(np.float64), axis=1)  # empty product = 1
        out[j] = float(np.sum(f * chi))
    return out


# ----------------------------------------------------------------------------------------------
# Support spectrum: group sums of f by the pattern of x over the support
# ----------------------------------------------------------------------------------------------
@nb.njit(cache=True, parallel=True, nogil=True)
def pattern_sums(f, x, support):  # pragma: no cover - compiled
    """sums[b] = sum of f[s] over samples whose pattern over the support is b, float64 (2^k,).

    pattern b = sum_i [x[s, support[i]] == -1] << i. Also returns sum_s f[s]^2 and the number of
    entries of x[:, support] outside {-1,+1}. f float64 (m,), x int8 (m, n), support int64 (k,).
    Samples are split into a fixed number of chunks (depending on m and k only), each with its
    own histogram; for k <= 10 each chunk keeps 4 interleaved copies so that consecutive samples
    falling in the same bin do not serialise on one memory location.
    """
    m = x.shape[0]
    k = support.shape[0]
    K = 1 << k
    C = 4 if K <= 1024 else 1
    nblocks = (m + BLOCK - 1) // BLOCK
    nchunks = max(1, min(nblocks, MAX_CHUNKS, (1 << 23) // K))  # partial sums <= 64 MiB
    partial = np.zeros((nchunks, K), dtype=np.float64)
    sq = np.zeros(nchunks, dtype=np.float64)
    bad = np.zeros(nchunks, dtype=np.int64)
    for c in nb.prange(nchunks):
        lo = c * m // nchunks
        hi = (c + 1) * m // nchunks
        hist = np.zeros(C * K, dtype=np.float64)
        acc2 = 0.0
        nbad = 0
        for s in range(lo, hi):
            b = 0
            for i in range(k):  # branch-free: the bits are random, branches would mispredict
                xv = x[s, support[i]]
                b |= np.int64(xv == -1) << i
                nbad += (xv != 1) & (xv != -1)
            fv = f[s]
            hist[(s & (C - 1)) * K + b] += fv
            acc2 += fv * fv
        for r in range(C):
            for b in range(K):
                partial[c, b] += hist[r * K + b]
        sq[c] = acc2
        bad[c] = nbad
    sums = np.zeros(K, dtype=np.float64)
    total_sq = 0.0
    for c in range(nchunks):
        for b in range(K):
            sums[b] += partial[c, b]
        total_sq += sq[c]
    return sums, total_sq, bad.sum()


def pattern_sums_numpy(f: np.ndarray, x: np.ndarray, support) -> tuple[np.ndarray, float]:
    """Numpy twin of :func:`pattern_sums` (no validation): (sums (2^k,), sum f^2)."""
    f = np.asarray(f, dtype=np.float64)
    support = np.asarray(support, dtype=np.int64)
    k = len(support)
    neg = (np.asarray(x)[:, support] == -1).astype(np.int64)
    pattern = (neg << np.arange(k, dtype=np.int64)).sum(axis=1) if k else np.zeros(len(f), np.int64)
    sums = np.bincount(pattern, weights=f, minlength=1 << k).astype(np.float64)
    return sums, float(np.sum(f * f))
