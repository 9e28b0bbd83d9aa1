"""Random-hyperplane LSH over unit embeddings: seeded planes, packed keys, and the all-pairs
and query searches built on them.

Why it is built this way:
* Centre, then hash. Pooled ReLU features are non-negative, so unrelated photos already sit
  at cosine ~0.5 and raw sign bits pile a library into a few buckets. Subtracting the
  library mean first makes an unrelated pair's bits coin flips.
* The planes are the rows of seeded Hadamard rotations (H D3 H D2 H D1, `rotation_signs`),
  so a big library's sign bits come from the fast Walsh-Hadamard transform
  (`photofind.core.match.rotation`, 5x less CPU than one dense product at 1M) and a small
  one's from the same planes as a matrix (`rotation_planes`). They stay packed as the
  photo's signature. Table t's key is bits [tK, tK+K) read as an integer whose most
  significant bit is plane tK: exactly lshash3's `_hash` string for the same planes. After
  the tables' bits come FILTER_BITS that no key uses, for the candidate filter.
* Rotations are seeded one by one and stored in the cache with the mean, so keys are stable
  across runs and adding tables never changes the old ones.
The pair search itself lives in `photofind.core.match.pairsearch`.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache

import numpy as np

NAMESPACE = "lsh"  # Cache.put_blob namespace; the key is the model id
DEFAULT_SEED = 20_240_611
MAX_BITS = 32
MEAN_DRIFT = 0.05  # refit the stored mean when the library's mean moved further than this
TARGET_RECALL = 0.99
MAX_TABLES = 64
_PLANE_BLOCK = 64
FILTER_BITS = 512  # sign bits after the tables' own, read by pairsearch's candidate filter only
FILTER_HEAD_WORDS = 4  # the filter's first stage: 256 bits, after which 0.3% of 1M candidates are left
_ROUNDS = 3  # H D rounds per rotation
_ROTATION_STREAM = 1000  # seeds rotations apart from seeded_planes' streams
_BLOCK_ROWS = 16_384  # vectors projected per matrix product: bounded temporary memory
FAST_FROM = 50_000  # from this many vectors the fast transform pays for loading numba (~0.5 s)


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
    def key_bits(self) -> int:
        return self.bits * self.tables

    @property
    def filter_word(self) -> int:
        """The first signature word of the filter's bits (the tables' bits end before it)."""
        return -(-self.key_bits // 64)

    @property
    def planes(self) -> int:
        return 64 * self.filter_word + FILTER_BITS


def seeded_planes(count: int, dim: int, seed: int, stream: int = 0) -> np.ndarray:
    """`count` Gaussian planes (rows). Row r depends only on (seed, dim, stream, r)."""
    blocks = [
        np.random.default_rng([seed, dim, stream, b]).standard_normal((_PLANE_BLOCK, dim), dtype=np.float32)
        for b in range(-(-count // _PLANE_BLOCK))
    ]
    return np.concatenate(blocks)[:count] if blocks else np.zeros((0, dim), np.float32)


def rotation_signs(count: int, size: int, seed: int) -> np.ndarray:
    """(count, _ROUNDS, size) float32 +-1: the diagonals of `count` seeded Hadamard rotations
    of a power-of-two `size`; rotation r depends only on (seed, size, r)."""
    signs = [
        np.random.default_rng([seed, size, _ROTATION_STREAM, r]).integers(0, 2, (_ROUNDS, size)) * 2 - 1
        for r in range(count)
    ]
    return np.array(signs, np.float32).reshape(count, _ROUNDS, size)


def rotation_size(dim: int) -> int:
    """The Hadamard size a `dim`-d vector is rotated at (zero padded)."""
    return 1 << max(0, dim - 1).bit_length()


def rotation_planes(signs: np.ndarray, dim: int) -> np.ndarray:
    """(count * size, dim) float32: the rows of each rotation H D3 H D2 H D1 (scaled to unit
    length before the padding columns are cut), plane r * size + j being row j of rotation r."""
    size = signs.shape[2]
    hadamard = np.ones((1, 1), np.float32)
    while len(hadamard) < size:
        hadamard = np.block([[hadamard, hadamard], [hadamard, -hadamard]])
    blocks = []
    for diagonals in signs:
        m = np.eye(size, dtype=np.float32)
        for d in diagonals:
            m = hadamard @ (d[:, None] * m)  # sums of +-1: exact in float32
        blocks.append(m[:, :dim] / np.float32(size ** (len(diagonals) / 2)))
    return np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32)


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

    @property
    def filter_words(self) -> np.ndarray:
        """(FILTER_BITS / 64, n): the bits no table's key uses."""
        return self.words[self.params.filter_word :]

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

    planes: np.ndarray  # (params.planes, dim) float32
    mean: np.ndarray  # (dim,) float32
    params: LshParams
    fitted_on: int = 0  # how many vectors the mean came from
    signs: np.ndarray | None = None  # the planes are these rotations' rows (rotation_signs)

    @classmethod
    def create(
        cls, dim: int, params: LshParams, mean: np.ndarray | None = None, fitted_on: int = 0
    ) -> Hyperplanes:
        m = np.zeros(dim, np.float32) if mean is None else np.asarray(mean, np.float32)
        size = rotation_size(dim)
        signs = rotation_signs(-(-params.planes // size), size, params.seed)
        return cls(rotation_planes(signs, dim)[: params.planes], m, params, fitted_on, signs)

    @classmethod
    def fit(cls, vectors: np.ndarray, params: LshParams) -> Hyperplanes:
        return cls.create(vectors.shape[1], params, library_mean(vectors), len(vectors))

    @property
    def dim(self) -> int:
        return self.planes.shape[1]

    def table_planes(self, table: int) -> np.ndarray:
        k = self.params.bits
        return self.planes[table * k : (table + 1) * k]

    def signatures(self, vectors: np.ndarray, threads: int = 1) -> Signatures:
        """The sign bits of `vectors`: from `FAST_FROM` vectors by the rotations' fast
        transform (numba, on `threads` threads), else by a product with the planes."""
        if self.signs is not None and len(vectors) >= FAST_FROM:
            from photofind.core.match import rotation  # numba: loaded on first use

            offset = rotation.project(self.mean[None], self.signs, self.params.planes)[0]
            return Signatures(rotation.signature_words(vectors, self.signs, offset, threads), self.params)
        n, nbits = len(vectors), self.params.planes
        nwords = -(-nbits // 64)
        words = np.zeros((nwords, n), np.uint64)
        planes_t, offset = self._product
        # One set of block buffers for every block: a fresh 80 MB product per block cost 12% of
        # the projection at 1M in page faults alone.
        rows = max(1, min(n, _BLOCK_ROWS))
        product = np.empty((rows, nbits), np.float32)
        bits = np.empty((rows, nbits), bool)
        packed = np.zeros((rows, nwords * 8), np.uint8)
        for s in range(0, n, rows):
            m = min(rows, n - s)
            if m == 1:  # one query photo: no BLAS call, which on a busy machine waits ~10 ms for its threads
                np.einsum("ij,j->i", self.planes, vectors[s], out=product[0])
            else:
                np.matmul(vectors[s : s + m], planes_t, out=product[:m])
            np.greater(product[:m], offset, out=bits[:m])
            packed[:m, : -(-nbits // 8)] = np.packbits(bits[:m], axis=1)
            words[:, s : s + m] = packed[:m].view(">u8").T
        return Signatures(words, self.params)

    @cached_property
    def _product(self) -> tuple[np.ndarray, np.ndarray]:
        """The planes transposed for the product, and the mean's values on them: made once, as
        a one-photo query (similar.py) asks for keys many times. (x - m).p == x.p - m.p: no
        centred copy of x."""
        return np.ascontiguousarray(self.planes.T), self.planes @ self.mean

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
        """The mean, the parameters and the rotations' signs (the planes follow from them)."""
        if self.signs is None:
            raise ValueError("only planes made by create() or fit() are stored")
        buf = io.BytesIO()
        meta = json.dumps({"params": asdict(self.params), "fitted_on": self.fitted_on})
        np.savez(buf, signs=self.signs.astype(np.int8), mean=self.mean, meta=np.array(meta))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Hyperplanes:
        """Raises ValueError (or KeyError, for a blob of the dense planes stored before
        rotations) when the blob is not a set of rotations for its parameters."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            signs, mean = z["signs"].astype(np.float32), z["mean"].astype(np.float32)
        params = LshParams(**meta["params"])
        size = rotation_size(mean.shape[0])
        if signs.shape != (-(-params.planes // size), _ROUNDS, size) or not np.all(np.abs(signs) == 1):
            raise ValueError("stored rotations do not match their parameters")
        planes = rotation_planes(signs, mean.shape[0])[: params.planes]
        return cls(planes, mean, params, int(meta.get("fitted_on", 0)), signs)


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
# Below FAST_FROM: numpy's loop and BLAS's product. From there: numba's loop and the fast
# transform, where a table's fixed costs weigh more against its candidates (so K is smaller).
_COST_BIT = (2.5e-8, 1.7e-9)  # one sign bit of one vector
_COST_SORT = (1.5e-7, 1.6e-7)  # one key through the sort and run detection (and, compiled, its gather)
_COST_PROBE = (1.0e-8, 4.0e-9)  # one bucket's neighbour lookup for one bit
_COST_PAIR = (6.0e-8, 4.0e-9)  # one candidate pair through enumeration and the signature filter
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
    path = int(n >= FAST_FROM)
    all_tables = np.arange(1, MAX_TABLES + 1)
    best: tuple[float, int, int] | None = None
    closest: tuple[float, int, int] | None = None
    for bits in range(8, 29):
        reached = np.asarray(expected_recall(threshold, mean_sq, bits, all_tables, probe))
        chance = float(np.mean(table_hit_rate(p_rand, bits, probe)))
        per_table = (
            _COST_BIT[path] * n * bits
            + _COST_SORT[path] * n
            + (_COST_PROBE[path] * n * bits if probe else 0.0)
            + _COST_PAIR[path] * chance * n * (n - 1) / 2
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
