"""Random-hyperplane LSH over unit embeddings: seeded planes, packed keys, and the all-pairs
and query searches built on them.

Why it is built this way:
* Centre, then hash. Pooled ReLU features are non-negative, so unrelated photos already sit
  at cosine ~0.5 and raw sign bits pile a library into a few buckets. Subtracting the
  library mean first makes an unrelated pair's bits coin flips.
* One matrix product gives all L*K sign bits of a block of vectors. They stay packed as the
  photo's signature. Table t's key is bits [tK, tK+K) read as an integer whose most
  significant bit is plane tK: exactly lshash3's `_hash` string for the same planes.
* Planes come in seeded blocks and are stored in the cache with the mean, so keys are stable
  across runs and adding tables never changes the old ones.
The pair search itself lives in `photofind.core.match.pairsearch`.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

NAMESPACE = "lsh"  # Cache.put_blob namespace; the key is the model id
DEFAULT_SEED = 20_240_611
MAX_BITS = 32
MEAN_DRIFT = 0.05  # refit the stored mean when the library's mean moved further than this
TARGET_RECALL = 0.99
MAX_TABLES = 64
_PLANE_BLOCK = 64
_BLOCK_ROWS = 16_384  # vectors projected per matrix product: bounded temporary memory


@dataclass(frozen=True)
class LshParams:
    """L tables of K bits; `probe` also pairs buckets whose keys differ in one bit.
    Buckets above `bucket_cap` are searched exactly inside instead of pair by pair, and
    those above `exact_cap` are first split by more planes."""

    bits: int = 16
    tables: int = 16
    probe: bool = True
    bucket_cap: int = 128
    exact_cap: int = 4096
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= MAX_BITS:
            raise ValueError(f"bits must be 1..{MAX_BITS}, not {self.bits}")
        if self.tables < 1:
            raise ValueError(f"tables must be >= 1, not {self.tables}")
        if self.bucket_cap < 2 or self.exact_cap < self.bucket_cap:
            raise ValueError("need 2 <= bucket_cap <= exact_cap")

    @property
    def planes(self) -> int:
        return self.bits * self.tables


def seeded_planes(count: int, dim: int, seed: int, stream: int = 0) -> np.ndarray:
    """`count` Gaussian planes (rows). Row r depends only on (seed, dim, stream, r)."""
    blocks = [
        np.random.default_rng([seed, dim, stream, b]).standard_normal((_PLANE_BLOCK, dim), dtype=np.float32)
        for b in range(-(-count // _PLANE_BLOCK))
    ]
    return np.concatenate(blocks)[:count] if blocks else np.zeros((0, dim), np.float32)


def library_mean(vectors: np.ndarray) -> np.ndarray:
    total = np.zeros(vectors.shape[1], np.float64)
    for s in range(0, len(vectors), _BLOCK_ROWS):
        total += vectors[s : s + _BLOCK_ROWS].sum(axis=0, dtype=np.float64)
    return (total / max(1, len(vectors))).astype(np.float32)


class Signatures:
    """All L*K sign bits of n vectors, as W rows of n big-endian uint64 words: bit b of the
    signature is bit (63 - b % 64) of word b // 64. Each word row is contiguous, because
    gathering from a 1-d array is ~10x faster in numpy than gathering rows of a 2-d one."""

    def __init__(self, words: np.ndarray, params: LshParams) -> None:
        self.words = words
        self.params = params

    def __len__(self) -> int:
        return self.words.shape[1]

    @property
    def nbits(self) -> int:
        return self.params.planes

    def table_keys(self, table: int) -> np.ndarray:
        """(n,) uint32 keys of one table."""
        k = self.params.bits
        lo = table * k
        w, off = divmod(lo, 64)
        first = self.words[w]
        if off + k <= 64:
            keys = (first >> np.uint64(64 - off - k)) & np.uint64((1 << k) - 1)
        else:
            rest = k - (64 - off)
            high = (first & np.uint64((1 << (64 - off)) - 1)) << np.uint64(rest)
            keys = high | (self.words[w + 1] >> np.uint64(64 - rest))
        return keys.astype(np.uint32)


@dataclass(frozen=True, eq=False)
class Hyperplanes:
    """Seeded planes plus the library mean they are centred on."""

    planes: np.ndarray  # (L*K, dim) float32
    mean: np.ndarray  # (dim,) float32
    params: LshParams
    fitted_on: int = 0  # how many vectors the mean came from

    @classmethod
    def create(
        cls, dim: int, params: LshParams, mean: np.ndarray | None = None, fitted_on: int = 0
    ) -> Hyperplanes:
        m = np.zeros(dim, np.float32) if mean is None else np.asarray(mean, np.float32)
        return cls(seeded_planes(params.planes, dim, params.seed), m, params, fitted_on)

    @classmethod
    def fit(cls, vectors: np.ndarray, params: LshParams) -> Hyperplanes:
        return cls.create(vectors.shape[1], params, library_mean(vectors), len(vectors))

    @property
    def dim(self) -> int:
        return self.planes.shape[1]

    def table_planes(self, table: int) -> np.ndarray:
        k = self.params.bits
        return self.planes[table * k : (table + 1) * k]

    def signatures(self, vectors: np.ndarray) -> Signatures:
        n, nbits = len(vectors), self.params.planes
        nwords = -(-nbits // 64)
        words = np.zeros((nwords, n), np.uint64)
        offset = self.planes @ self.mean  # (x - m).p == x.p - m.p: no centred copy of x
        planes_t = np.ascontiguousarray(self.planes.T)
        # One set of block buffers for every block: a fresh 80 MB product per block cost 12% of
        # the projection at 1M in page faults alone.
        rows = max(1, min(n, _BLOCK_ROWS))
        product = np.empty((rows, nbits), np.float32)
        bits = np.empty((rows, nbits), bool)
        packed = np.zeros((rows, nwords * 8), np.uint8)
        for s in range(0, n, rows):
            m = min(rows, n - s)
            np.matmul(vectors[s : s + m], planes_t, out=product[:m])
            np.greater(product[:m], offset, out=bits[:m])
            packed[:m, : -(-nbits // 8)] = np.packbits(bits[:m], axis=1)
            words[:, s : s + m] = packed[:m].view(">u8").T
        return Signatures(words, self.params)

    def keys(self, vectors: np.ndarray) -> np.ndarray:
        """(n, L) uint32 bucket keys."""
        sig = self.signatures(np.atleast_2d(np.asarray(vectors, np.float32)))
        return np.stack([sig.table_keys(t) for t in range(self.params.tables)], axis=1)

    def lshash_key(self, vector: np.ndarray, table: int) -> str:
        """Our key of `vector` in `table`, written as lshash3's `LSHash._hash(planes, point)`
        writes it for planes = `table_planes(table)` and point = vector - mean."""
        key = int(self.keys(vector)[0, table])
        return format(key, f"0{self.params.bits}b")

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = json.dumps({"params": asdict(self.params), "fitted_on": self.fitted_on})
        np.savez(buf, planes=self.planes, mean=self.mean, meta=np.array(meta))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Hyperplanes:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            planes, mean = z["planes"].astype(np.float32), z["mean"].astype(np.float32)
        params = LshParams(**meta["params"])
        if planes.shape != (params.planes, mean.shape[0]):
            raise ValueError("stored planes do not match their parameters")
        return cls(planes, mean, params, int(meta.get("fitted_on", 0)))


def load_hyperplanes(cache, model_id: str, vectors: np.ndarray, params: LshParams) -> Hyperplanes:
    """The planes and mean stored for `model_id`, refreshed when the parameters changed or
    the library's mean drifted by more than MEAN_DRIFT; a change is written back."""
    mean = library_mean(vectors)
    stored = None
    raw = cache.get_blob(NAMESPACE, model_id) if cache is not None and model_id else None
    if raw is not None:
        try:
            stored = Hyperplanes.from_bytes(raw)
        except (ValueError, KeyError, OSError):
            stored = None  # unreadable blob: rebuilt below, deterministically from the seed
    if stored is not None and stored.dim == vectors.shape[1]:
        if stored.params == params and float(np.linalg.norm(stored.mean - mean)) <= MEAN_DRIFT:
            return stored
        if float(np.linalg.norm(stored.mean - mean)) <= MEAN_DRIFT:
            mean = stored.mean  # same library, new table shape: keep keys centred the same way
    fresh = Hyperplanes.create(vectors.shape[1], params, mean, len(vectors))
    if cache is not None and model_id:
        cache.put_blob(NAMESPACE, model_id, fresh.to_bytes())
    return fresh


# -- choosing L and K ---------------------------------------------------------------------------


def table_hit_rate(p: np.ndarray | float, bits: int, probe: bool) -> np.ndarray:
    """Chance that two vectors whose sign bits agree with probability p share a bucket in
    one table (or, with `probe`, have keys at Hamming distance <= 1)."""
    p = np.asarray(p, np.float64)
    hit = p**bits
    if probe:
        hit = hit + bits * p ** (bits - 1) * (1 - p)
    return hit


def bit_agreement(cos: np.ndarray | float) -> np.ndarray:
    """P(one random hyperplane puts both vectors on the same side) = 1 - angle / pi."""
    return 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi


def centred_threshold(threshold: float, mean_sq: float) -> float:
    """The cosine, after centring, of a typical pair at raw cosine `threshold`: with x.m ~ |m|^2
    for every photo, (x-m).(y-m) = x.y - |m|^2 and |x-m|^2 = 1 - |m|^2."""
    return float(np.clip((threshold - mean_sq) / max(1e-6, 1.0 - mean_sq), -1.0, 1.0))


# Seconds per unit of work, measured on the 2-core benchmark machine; only ratios matter.
_COST_BIT = 2.5e-8  # one sign bit of one vector (a 512-d dot product, in BLAS)
_COST_SORT = 1.5e-7  # one key through argsort and run detection
_COST_PROBE = 1.0e-8  # one bucket's neighbour lookup for one bit
_COST_PAIR = 6.0e-8  # one candidate pair through enumeration and the signature filter
RECALL_BAND = 0.05  # recall is averaged over pairs with cosine in [t, t + band]: the hardest ones


def expected_recall(
    threshold: float,
    mean_sq: float,
    bits: int,
    tables: int | np.ndarray,
    probe: bool,
    band: float = RECALL_BAND,
) -> np.ndarray | float:
    """Mean recall over pairs spread evenly in cosine [threshold, threshold + band]
    (an array when `tables` is one)."""
    cos = np.linspace(threshold, min(1.0, threshold + band), 11)
    p = bit_agreement(np.array([centred_threshold(c, mean_sq) for c in cos]))
    miss = 1 - table_hit_rate(p, bits, probe)
    recall = np.mean(1 - miss[None, :] ** np.atleast_1d(tables)[:, None], axis=1)
    return recall if np.ndim(tables) else float(recall[0])


def choose_params(
    n: int,
    threshold: float,
    *,
    mean_sq: float = 0.0,
    random_cos: np.ndarray | None = None,
    recall: float = TARGET_RECALL,
    probe: bool = True,
    seed: int = DEFAULT_SEED,
) -> LshParams:
    """The cheapest (K, L) with `expected_recall` >= `recall` for pairs just above `threshold`.

    A pair's bits agree with p = 1 - angle/pi, its angle taken after centring (see
    `centred_threshold`). Chance collisions are priced from `random_cos`, centred cosines of
    random pairs of this library (anisotropic data collides more than 2**-K), or from
    coin-flip bits when it is None. When no K reaches `recall` within MAX_TABLES tables,
    the K that comes closest is used.
    """
    p_rand = bit_agreement(np.asarray(random_cos, np.float64)) if random_cos is not None else np.array([0.5])
    all_tables = np.arange(1, MAX_TABLES + 1)
    best: tuple[float, int, int] | None = None
    closest: tuple[float, int, int] | None = None
    for bits in range(8, 29):
        reached = np.asarray(expected_recall(threshold, mean_sq, bits, all_tables, probe))
        chance = float(np.mean(table_hit_rate(p_rand, bits, probe)))
        per_table = (
            _COST_BIT * n * bits
            + _COST_SORT * n
            + (_COST_PROBE * n * bits if probe else 0.0)
            + _COST_PAIR * chance * n * (n - 1) / 2
        )
        if reached[-1] >= recall:
            tables = int(all_tables[np.argmax(reached >= recall)])
            if best is None or per_table * tables < best[0]:
                best = (per_table * tables, bits, tables)
        elif closest is None or reached[-1] > closest[0]:
            closest = (float(reached[-1]), bits, MAX_TABLES)
    _, bits, tables = best if best is not None else closest  # type: ignore[misc]
    return LshParams(bits=bits, tables=tables, probe=probe, seed=seed)


def sample_random_cos(vectors: np.ndarray, mean: np.ndarray, pairs: int = 4096, seed: int = 0) -> np.ndarray:
    """Centred cosines of random pairs: how much this library's bits agree by chance."""
    n = len(vectors)
    if n < 2:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
    keep = i != j
    a, b = vectors[i[keep]] - mean, vectors[j[keep]] - mean
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.maximum(norms, 1e-12)


# -- what a Hamming distance says about a cosine --------------------------------------------------

PAIR_MISS = 1e-4  # chance, per filter stage, of dropping a true pair that sits exactly at the threshold


@lru_cache(maxsize=16)
def agreement_limits(nbits: int, miss: float = PAIR_MISS) -> np.ndarray:
    """limits[h] = the largest centred cosine c at which a Hamming distance >= h (over nbits
    sign bits) still has chance >= miss. A pair that needs centred cosine > limits[h] to reach
    the threshold, yet differs in h bits, is almost surely not a match."""
    cs = np.linspace(-1.0, 1.0, 2001)
    q = np.arccos(cs) / np.pi  # chance that one bit differs
    h = np.arange(nbits + 1)
    log_comb = np.array([math.lgamma(nbits + 1) - math.lgamma(k + 1) - math.lgamma(nbits - k + 1) for k in h])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = log_comb + h * np.log(q[:, None]) + (nbits - h) * np.log1p(-q[:, None])
    pmf = np.nan_to_num(np.exp(log_pmf))
    pmf[0] = h == nbits  # c = -1: every bit differs
    pmf[-1] = h == 0  # c = 1: no bit differs
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # P(X >= h)
    plausible = tail >= miss  # true for low c, false above a cut: take the cut
    last = len(cs) - 1 - np.argmax(plausible[::-1], axis=0)
    return cs[last].astype(np.float32)
