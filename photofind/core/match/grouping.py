"""Records + embeddings -> tiered groups (exact, pixels, near; similar), without chaining.

Decided semantics, which the GUI, the CLI and the JSON contract rely on:
* Every file is in at most one duplicate group (tier exact, pixels or near). Byte-identical
  copies ride along with their twin.
* A duplicate pair has cosine >= thresholds.near AND `verify.pixel_check` confirms the same
  photo. A photo without an embedding (or a scan without a model) relies on the pixel check
  alone. With `rotations`, a pair the pixel check finds rotated or mirrored needs no cosine:
  the CNN is not rotation invariant. A group's tier is its weakest pair's: a pair is
  "pixels" when `verify.same_pixels` proves equal decoded pixels, else "near".
* Similar groups are a second layer. A duplicate group takes part through its keeper only,
  so the members of a similar group are never duplicates of each other. Their cosines are
  >= thresholds.similar, but the pixels said "different photo" (same scene, burst).
* No chaining. Pairs merge strongest first. Duplicate groups use a stated anchor rule: a
  merge is accepted only if the pixel check confirms EVERY member as a copy of the merged
  group's anchor: its largest photo without added bars. The cosine only decides which pairs
  are looked at; the pixels decide membership (a letterboxed or heavily cropped copy can sit
  under `near` to the anchor and still be proven the same picture). Two crops of one
  original, which do not contain each other, meet in the original's group; burst frames fail
  the pixel check against the anchor. Similar groups use complete linkage: a photo joins only
  if EVERY cross pair has the similar cosine. So A~B and B~C never put A with C unless A~C,
  or both are copies of the anchor. A group stops growing at MAX_DUPLICATE_GROUP or
  MAX_SIMILAR_GROUP members, and its `why` says so: big clusters are split, never merged
  silently.
* Candidates come from the embedding pair search (`pairsearch.find_pairs`, exact below
  ~12k photos, LSH above) and from `phash_index.phash_candidates`. A cross pair the every-member
  rule needs is computed directly, candidate or not.

Verdicts are data. With a cache, every pixel-check answer is saved per ordered content-hash
pair, verifier version (verify.VERIFIER_VERSION) and rotation setting, in batches as they are
found, and read back before anything is checked: a warm rescan runs no pixel check, a rescan
after adding photos checks only pairs that involve them, a killed scan resumes where it
stopped. The checks read the details the scan cached (pixelfacts.CachedPixelFacts), so
grouping opens no photo file. Verification reports "verifying" pairs checked of total; the
clustering after it, "grouping" groups made of candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from photofind.core.cleanup.keep import DEFAULT_POLICY, pick_keeper
from photofind.core.match import bursts, phash_memo, phylogeny, verify
from photofind.core.match.linkage import best_per_node, complete_linkage, edge_codes
from photofind.core.match.lsh import Hyperplanes, load_hyperplanes
from photofind.core.match.pairsearch import EXACT_BELOW, auto_params, contains, find_pairs, unique_sorted
from photofind.core.match.treememo import TreeMemo, tree_key
from photofind.core.match.verdicts import PixelVerdicts
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.types import Derivation, Group, ImageRecord, Member, Thresholds, Tier

MAX_DUPLICATE_GROUP = 64
MAX_SIMILAR_GROUP = 100
MAX_NEIGHBOURS = 24  # candidates kept per photo, best first (plus every pHash-close pair)
FLOOR_MARGIN = 0.05  # a Regrouper's candidates reach this far below the scan's thresholds
SIZE_NOTE = "size limit reached: more matches were not merged"
_TURNED = ("rotated", "mirrored")


def group_records(
    records: Sequence[ImageRecord],
    embeddings: np.ndarray | None,
    thresholds: Thresholds,
    *,
    thumbs: np.ndarray | None = None,
    rotations: bool = False,
    policy: Any = None,
    cache: Any = None,
    model_id: str | None = None,
    exact_below: int = EXACT_BELOW,
    progress: Progress = NULL_PROGRESS,
) -> list[Group]:
    """Duplicate groups, then similar groups, for one scan (see the module docstring).
    `cache` + `model_id` keep the LSH planes stable across scans of big libraries."""
    regrouper = Regrouper(
        records,
        embeddings,
        thumbs,
        floor=min(thresholds.near, thresholds.similar),
        recall_threshold=thresholds.near,
        rotations=rotations,
        policy=policy,
        cache=cache,
        model_id=model_id,
        exact_below=exact_below,
        progress=progress,
    )
    return regrouper.group(thresholds)


class Regrouper:
    """Candidate pairs found once (at cosine >= `floor`), then `group(thresholds)` for any
    thresholds from them: no decoding or inference, deterministic, fast enough for a slider.

    Pixel verdicts are computed on first need and kept (with a cache, also across scans;
    see the module docstring). The first `group` call fetches them for every pair down to
    `verify_floor`, so later calls above it run no pixel check."""

    def __init__(
        self,
        records: Sequence[ImageRecord],
        embeddings: np.ndarray | None = None,
        thumbs: np.ndarray | None = None,
        *,
        floor: float | None = None,
        verify_floor: float | None = None,
        recall_threshold: float | None = None,
        rotations: bool = False,
        policy: Any = None,
        cache: Any = None,
        model_id: str | None = None,
        exact_below: int = EXACT_BELOW,
        progress: Progress = NULL_PROGRESS,
    ) -> None:
        default = Thresholds()
        self.records = tuple(records)
        self.rotations = rotations
        self.policy = policy
        self._search_args = (cache, model_id, exact_below, recall_threshold or default.near)
        self._progress = progress
        self.verify_floor = verify_floor
        first: dict[str, int] = {}
        self.copies: list[list[int]] = []
        for i, r in enumerate(self.records):
            c = first.setdefault(r.content_hash, len(self.copies))
            if c == len(self.copies):
                self.copies.append([])
            self.copies[c].append(i)
        self.reps = np.array([c[0] for c in self.copies], np.int64)
        self._class = np.empty(len(self.records), np.int64)  # record -> its content class
        for c, members in enumerate(self.copies):
            self._class[members] = c
        n_reps = len(self.reps)
        self.vectors = None
        self.valid = np.zeros(n_reps, bool)
        if embeddings is not None and len(self.records):
            emb = np.ascontiguousarray(embeddings, dtype=np.float32)
            # Without byte copies the representatives are all rows: no second copy of a big array.
            self.vectors = emb if len(self.reps) == len(emb) else emb[self.reps]
            self.valid = np.einsum("ij,ij->i", self.vectors, self.vectors) > 0.25  # zero rows: not embedded
        self.thumbs = thumbs if thumbs is not None else np.zeros((len(self.records), 32, 32), np.uint8)
        self.verdicts = PixelVerdicts(
            self.records, self.reps, self.thumbs, rotations=rotations, cache=cache, progress=progress
        )
        self._bordered: dict[int, bool] = {}
        self._trees: dict[tuple, dict[int, Derivation]] = {}  # (cluster, root) -> derivation tree
        self._memo = TreeMemo(cache)  # the trees of the last scan's groups
        self.floor = np.inf
        self._ensure_floor(min(default.near, default.similar) - FLOOR_MARGIN if floor is None else floor)

    @classmethod
    def from_result(cls, result: Any, *, floor: float | None = None, cache: Any = None) -> Regrouper:
        """For the GUI: candidates FLOOR_MARGIN below the scan's thresholds, verdicts likewise,
        from the scan's cache (opened here when not given) so no photo file is read."""
        t = result.settings.thresholds
        if cache is None:
            from photofind.core.scan.cache import Cache
            from photofind.core.store import StoreError
            from photofind.paths import default_cache_path

            try:
                cache = Cache(result.settings.cache_path or default_cache_path())
            except StoreError:
                cache = None  # the checks then decode the photos, as without a cache
        return cls(
            result.records,
            result.embeddings,
            result.thumbs,
            floor=min(t.near, t.similar) - FLOOR_MARGIN if floor is None else floor,
            verify_floor=t.near - FLOOR_MARGIN,
            recall_threshold=t.near,
            rotations=result.settings.rotations,
            cache=cache,
            model_id=result.model.id if result.model else None,
        )

    # -- candidates ---------------------------------------------------------------------------

    def _ensure_floor(self, floor: float) -> None:
        if floor >= self.floor:
            return
        cache, model_id, exact_below, recall_threshold = self._search_args
        n = len(self.reps)
        found_a, found_b, phash_a, phash_b, close_a, close_b = [], [], [], [], [], []
        if self.vectors is not None and self.valid.sum() >= 2:
            idx = np.flatnonzero(self.valid)
            vecs = self.vectors if len(idx) == len(self.vectors) else self.vectors[idx]
            planes = None
            if len(idx) >= exact_below:
                params = auto_params(vecs, recall_threshold)
                planes = (
                    load_hyperplanes(cache, model_id, vecs, params)
                    if cache is not None and model_id
                    else Hyperplanes.fit(vecs, params)
                )
            pairs = find_pairs(
                vecs, floor - 1e-6, planes=planes, exact_below=exact_below, progress=self._progress
            )
            found_a.append(idx[pairs.i])
            found_b.append(idx[pairs.j])
        has_phash = np.array([self.records[r].phash is not None for r in self.reps], bool)
        if has_phash.sum() >= 2:
            idx = np.flatnonzero(has_phash)
            hashes = np.array([self.records[self.reps[k]].phash for k in idx], np.uint64)
            thumbs = self.thumbs[[self.reps[k] for k in idx]]
            # Close: the pHashes, or one's and the centre of the other's (a crop, a tilt).
            close, turned = phash_memo.remembered_candidates(
                cache, hashes, thumbs, rotations=self.rotations, progress=self._progress
            )
            for pp in (close, turned):
                phash_a.append(idx[pp[:, 0]])
                phash_b.append(idx[pp[:, 1]])
            close_a.append(idx[close[:, 0]])
            close_b.append(idx[close[:, 1]])
        emb = edge_codes(found_a, found_b, n)
        via_phash = edge_codes(phash_a, phash_b, n)
        codes = unique_sorted(np.concatenate([emb, via_phash]))
        self.edge_a, self.edge_b = codes // max(n, 1), codes % max(n, 1)
        self.edge_phash = contains(via_phash, codes)
        self.edge_close = contains(edge_codes(close_a, close_b, n), codes)
        self.edge_cos = self._cos_pairs(self.edge_a, self.edge_b)
        self.edge_score = self.edge_cos.copy()
        missing = np.isnan(self.edge_cos)
        self.edge_score[missing] = self._fallback_scores(self.edge_a[missing], self.edge_b[missing])
        # Bound the work: a photo keeps only its MAX_NEIGHBOURS best candidates (and every
        # pHash-close one). Weak or random weights put every pair above the floor, and pixel
        # checks on all of them would be quadratic in the library.
        keep = self.edge_phash | best_per_node(self.edge_a, self.edge_b, self.edge_score, MAX_NEIGHBOURS)
        if not keep.all():
            self.edge_a, self.edge_b = self.edge_a[keep], self.edge_b[keep]
            self.edge_phash, self.edge_close, self.edge_cos, self.edge_score = (
                self.edge_phash[keep],
                self.edge_close[keep],
                self.edge_cos[keep],
                self.edge_score[keep],
            )
        self.floor = floor

    def _cos_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosines in float64 (NaN where a photo has no embedding): one arithmetic for every
        comparison, so a candidate and a cross check never disagree at the threshold."""
        out = np.full(len(a), np.nan)
        if self.vectors is None:
            return out
        ok = self.valid[a] & self.valid[b]
        ia, ib = a[ok], b[ok]
        vals = np.empty(len(ia))
        for s in range(0, len(ia), 8192):
            x = self.vectors[ia[s : s + 8192]].astype(np.float64)
            vals[s : s + 8192] = np.einsum("ij,ij->i", x, self.vectors[ib[s : s + 8192]].astype(np.float64))
        out[ok] = vals
        return out

    def _cos_matrix(self, xs: Sequence[int], ys: Sequence[int]) -> np.ndarray:
        if self.vectors is None:
            return np.full((len(xs), len(ys)), np.nan)
        c = self.vectors[list(xs)].astype(np.float64) @ self.vectors[list(ys)].astype(np.float64).T
        return np.where(self.valid[list(xs)][:, None] & self.valid[list(ys)][None, :], c, np.nan)

    def _fallback_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity without embeddings: pHash agreement (1 - distance / 64), else 0."""
        out = np.zeros(len(a))
        for k, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
            hx, hy = self.records[self.reps[x]].phash, self.records[self.reps[y]].phash
            if hx is not None and hy is not None:
                out[k] = 1.0 - (hx ^ hy).bit_count() / 64.0
        return out

    # -- pixel verdicts ---------------------------------------------------------------------------

    def verdict(self, x: int, y: int) -> str | None:
        """verify.pixel_check for representatives x, y (memoised)."""
        found = self.verdicts.relation(x, y)
        return found.reason if found else None

    def _is_duplicate(self, x: int, y: int, cos: float, near: float, close: bool) -> bool:
        # A pHash-close pair (`edge_close`) is judged by its pixels even below the cosine:
        # the CNN misses copies the pixel check proves (grayscale, tone edits, crops of
        # textures, weak or random weights).
        if not np.isnan(cos) and cos < near and not self.rotations and not close:
            return False
        reason = self.verdict(x, y)
        if reason is None:
            return False
        return bool(np.isnan(cos) or cos >= near or reason in _TURNED or close)

    # -- grouping --------------------------------------------------------------------------------

    def group(self, thresholds: Thresholds) -> list[Group]:
        """All groups at `thresholds`, sorted by tier, size, then the keeper's path; ids from 1."""
        near, similar = thresholds.near, thresholds.similar
        self._ensure_floor(min(near, similar))
        cos = self.edge_cos
        nan = np.isnan(cos)
        prefetch = min(near, self.verify_floor) if self.verify_floor is not None else near
        eligible = nan | (cos >= prefetch) | (self.edge_phash & self.rotations)
        self.verdicts.prefetch(list(zip(self.edge_a[eligible].tolist(), self.edge_b[eligible].tolist())))
        try:
            return self._group(thresholds)
        finally:
            self.verdicts.save()
            self._memo.save()

    def _group(self, thresholds: Thresholds) -> list[Group]:
        near, similar = thresholds.near, thresholds.similar
        cos, score = self.edge_cos, self.edge_score
        dup = np.array(
            [
                self._is_duplicate(x, y, c, near, close)
                for x, y, c, close in zip(
                    self.edge_a.tolist(), self.edge_b.tolist(), cos.tolist(), self.edge_close.tolist()
                )
            ],
            bool,
        )
        order = np.lexsort((self.edge_b, self.edge_a, -score))
        order = order[dup[order]]

        def accept_dup(xs: list[int], ys: list[int]) -> bool:
            # Anchor rule: the pixels must confirm every member as a copy of the merged group's
            # anchor. Two crops of one original never contain each other, yet both are that
            # original; a burst frame fails the pixel check against the anchor, so look-alikes
            # still never chain.
            merged = xs + ys
            anchor = min(merged, key=self._anchor_key)
            return all(self.verdict(anchor, y) is not None for y in merged if y != anchor)

        clusters, capped = complete_linkage(
            self.edge_a[order], self.edge_b[order], accept_dup, MAX_DUPLICATE_GROUP
        )
        groups: list[Group] = []
        node_record = {}  # representative -> the record that stands for its group in the similar layer
        in_cluster = set()
        for k, (cluster, flagged) in enumerate(zip(clusters, capped)):
            if k % 256 == 0:
                check_cancel(self._progress)
                self._progress.update(Phase.GROUP, k, len(clusters))
                block = [c for cl in clusters[k : k + 256] if not self._tree_known(cl) for c in cl]
                self.verdicts.preload(block)  # the details of trees not remembered, in batched reads
            in_cluster.update(cluster)
            g = self._duplicate_group(cluster, flagged)
            groups.append(g)
            node_record[int(self._class[g.keep_index])] = g.keep_index
        for c, members in enumerate(self.copies):
            if c in in_cluster:
                continue
            if len(members) > 1:
                g = self._duplicate_group([c], False)
                groups.append(g)
                node_record[c] = g.keep_index
            else:
                node_record[c] = members[0]
        if clusters:
            self._progress.update(Phase.GROUP, len(clusters), len(clusters))
        groups.extend(self._similar_groups(node_record, similar))
        groups.sort(key=lambda g: (g.tier.rank, -len(g.members), self.records[g.keep_index].path))
        return [replace(g, id=n) for n, g in enumerate(groups, start=1)]

    def _anchor_key(self, rep: int) -> tuple:
        """A photo without added bars first (its picture is all of it), then the most pixels
        (a crop or thumbnail never outranks its original), then bytes, then path."""
        if rep not in self._bordered:
            with self.verdicts.reading():
                self._bordered[rep] = verify.has_bars(self.records[self.reps[rep]])
        r = self.records[self.reps[rep]]
        return (self._bordered[rep], -r.facts.pixels, -r.file.size, r.path)

    def _pick(self, indices: list[int], tree: dict[int, Derivation] | None = None) -> int:
        return pick_keeper(self.records, indices, self.policy, tree)

    def _derivation(
        self, cluster: list[int], indices: list[int], root: int | None = None
    ) -> dict[int, Derivation]:
        """The group's derivation tree (photofind.core.match.phylogeny), from each member's
        pixel check against the anchor, hung from `root` if that is an original. A copy is
        credited no more pixels than its source has: upscaling adds none. Memoised: a slider
        move that keeps a cluster reads no photo again."""
        key = (tuple(cluster), root)
        if key not in self._trees:
            self._trees[key] = self._infer(cluster, indices, root)
        return self._trees[key]

    def _members(self, cluster: list[int]) -> list[int]:
        """The records of a cluster's content classes, in record order."""
        return sorted(i for c in cluster for i in self.copies[c])

    def _tree_key(self, cluster: list[int], indices: list[int], root: int | None) -> tuple[str, int]:
        """The TreeMemo key of a tree, and the cluster's anchor."""
        anchor = min(cluster, key=self._anchor_key)
        hashes = [self.records[i].content_hash for i in indices]
        at = indices.index(int(self.reps[anchor]))
        return tree_key(hashes, at, None if root is None else indices.index(root)), anchor

    def _tree_known(self, cluster: list[int]) -> bool:
        """Its tree is built in this process or remembered from the last scan."""
        if (tuple(cluster), None) in self._trees:
            return True
        indices = self._members(cluster)
        return self._memo.has(self._tree_key(cluster, indices, None)[0])

    def _infer(self, cluster: list[int], indices: list[int], root: int | None) -> dict[int, Derivation]:
        key, anchor = self._tree_key(cluster, indices, root)
        nodes = self._memo.get(key)
        if nodes is None:
            nodes, whole = self._infer_nodes(indices, anchor, root)
            if whole:  # a tree made without some member's detail is not kept for later scans
                self._memo.put(key, nodes)
        credited = [n.content_pixels for n in nodes]
        for k in self._top_down(nodes):
            parent = nodes[k].parent
            if parent is not None:
                credited[k] = min(credited[k], credited[parent])
        return {
            i: Derivation(
                i,
                None if node.parent is None else indices[node.parent],
                node.how,
                node.original,
                credited[k],
            )
            for k, (i, node) in enumerate(zip(indices, nodes))
        }

    def _infer_nodes(
        self, indices: list[int], anchor: int, root: int | None
    ) -> tuple[list[phylogeny.Node], bool]:
        """The tree, and whether every member's detail was there to make it."""
        records = [self.records[i] for i in indices]
        with self.verdicts.reading():
            details = [verify.load_detail(self.records[self.reps[self._class[i]]]) for i in indices]
        relations: list[verify.Verdict | None] = []
        for i in indices:
            c = int(self._class[i])
            if i == self.reps[anchor]:
                relations.append(None)
            elif c == anchor:
                relations.append(verify.Verdict("same bytes"))
            else:
                relations.append(self.verdicts.relation(anchor, c))
        nodes = phylogeny.infer(
            records,
            details,
            relations,
            indices.index(int(self.reps[anchor])),
            None if root is None else indices.index(root),
        )
        return nodes, all(d is not None for d in details)

    @staticmethod
    def _top_down(nodes: list[phylogeny.Node]) -> list[int]:
        """Positions ordered so that every parent comes before its children."""
        depth = {}

        def level(k: int) -> int:
            if k not in depth:
                parent = nodes[k].parent
                depth[k] = 0 if parent is None else level(parent) + 1
            return depth[k]

        return sorted(range(len(nodes)), key=level)

    def _duplicate_group(self, cluster: list[int], flagged: bool) -> Group:
        indices = self._members(cluster)
        tree = self._derivation(cluster, indices)
        keep = self._pick(indices, tree)
        if tree[keep].original and tree[keep].parent is not None:  # a lossless twin of the root
            tree = self._derivation(cluster, indices, keep)
        kc = int(self._class[keep])
        pair_sim = self._pair_scores(cluster)
        sims = {
            i: 1.0 if self._class[i] == kc else pair_sim[(kc, int(self._class[i]))]
            for i in indices
            if i != keep
        }
        others = sorted(sims, key=lambda i: (-sims[i], self.records[i].path))
        weights = [(len(self.copies[c]) * (len(self.copies[c]) - 1) // 2, 1.0) for c in cluster]
        weights += [(len(self.copies[x]) * len(self.copies[y]), s) for (x, y), s in pair_sim.items() if x < y]
        tier = Tier.EXACT if len(cluster) == 1 else Tier.PIXELS
        if any(not self.verdicts.same_pixels(x, y) for x in cluster for y in cluster if x < y):
            tier = Tier.NEAR
        why = ["same bytes"] if any(len(self.copies[c]) > 1 for c in cluster) else []
        for c in dict.fromkeys(int(self._class[i]) for i in others):
            if c != kc:
                other = self.copies[c][0]
                why.append(
                    "same pixels"
                    if tier is Tier.PIXELS
                    else self._reason(keep, other) or self.verdict(kc, c) or "near"
                )
        if flagged:
            why.append(SIZE_NOTE)
        group = _make_group(tier, keep, others, sims, weights, why)
        policy = self.policy or DEFAULT_POLICY
        return replace(
            group,
            derivation=tuple(tree[m.index] for m in group.members),
            keep_reason=policy.explain(self.records, indices, tree),
        )

    def _reason(self, keep: int, other: int) -> str | None:
        """Why `other` duplicates the keeper, worded from the keeper's side (memoised and
        cached like every verdict: a slider move must not run the pixel check again)."""
        found = self.verdicts.relation(int(self._class[keep]), int(self._class[other]))
        return found.reason if found else None

    def _pair_scores(self, cluster: Sequence[int]) -> dict[tuple[int, int], float]:
        c = self._cos_matrix(cluster, cluster)
        fallback = {}
        out = {}
        for i, x in enumerate(cluster):
            for j, y in enumerate(cluster):
                if x == y:
                    continue
                v = c[i, j]
                if np.isnan(v):
                    key = (min(x, y), max(x, y))
                    if key not in fallback:
                        fallback[key] = float(
                            self._fallback_scores(np.array([key[0]]), np.array([key[1]]))[0]
                        )
                    v = fallback[key]
                out[(x, y)] = float(v)
        return out

    def _similar_groups(self, node_record: dict[int, int], similar: float) -> list[Group]:
        is_node = np.zeros(len(self.reps), bool)
        is_node[list(node_record)] = True
        a, b, cos = self.edge_a, self.edge_b, self.edge_cos
        ok = is_node[a] & is_node[b] & ~np.isnan(cos)
        ok[ok] = cos[ok] >= similar
        order = np.lexsort((b, a, -np.nan_to_num(cos, nan=-2.0)))
        order = order[ok[order]]

        def accept(xs: list[int], ys: list[int]) -> bool:
            return bool(self._cos_matrix(xs, ys).min() >= similar)

        clusters, capped = complete_linkage(a[order], b[order], accept, MAX_SIMILAR_GROUP)
        out = []
        for cluster, flagged in zip(clusters, capped):
            indices = [node_record[c] for c in cluster]
            burst = bursts.is_burst([self.records[i] for i in indices])
            with self.verdicts.reading():
                best = bursts.best_of(self.records, indices) if burst else None
            keep = best[0] if best else self._pick(indices)
            kc = int(self._class[keep])
            c = self._cos_matrix(cluster, cluster)
            pos = {x: k for k, x in enumerate(cluster)}
            sims = {i: float(c[pos[kc], pos[int(self._class[i])]]) for i in indices if i != keep}
            others = sorted(sims, key=lambda i: (-sims[i], self.records[i].path))
            upper = c[np.triu_indices(len(cluster), 1)]
            why = ["same scene"] + (["burst"] if burst else [])
            if flagged:
                why.append(SIZE_NOTE)
            group = _make_group(Tier.SIMILAR, keep, others, sims, [(1, float(v)) for v in upper], why)
            out.append(bursts.suggest(group, *best) if best else group)
        return out


def _make_group(
    tier: Tier,
    keep: int,
    others: list[int],
    sims: dict[int, float],
    weighted: list[tuple[int, float]],
    why: list[str],
) -> Group:
    """`weighted`: (how many file pairs, similarity) over all internal pairs."""
    pairs = [(w, s) for w, s in weighted if w > 0]
    total = sum(w for w, _ in pairs)
    return Group(
        id=0,
        tier=tier,
        members=(Member(keep, 1.0), *(Member(i, sims[i]) for i in others)),
        min_similarity=min((s for _, s in pairs), default=1.0),
        mean_similarity=sum(w * s for w, s in pairs) / total if total else 1.0,
        why=tuple(dict.fromkeys(why)),
    )
