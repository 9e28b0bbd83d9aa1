"""`photofind similar IMAGE --in PATH...`: the photos of a library most like one image.

A query, not a scan: the library's files are listed and their embeddings read from the cache
(only new or changed photos are read; the library is never grouped), the image is embedded the
way the scan embeds photos unless the library already holds it, and
photofind.core.match.similar ranks the library and pixel-checks only the top hits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photofind.commands.common import (
    add_engine_options,
    cancel_on_sigint,
    open_cache,
    output_problems,
    settings_from_args,
)
from photofind.core.output import write_text_atomic

if TYPE_CHECKING:
    from photofind.core.match.similar import SimilarSearchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "similar",
        help="list the photos most similar to an image",
        description="List the photos of a library most similar to an image, "
        "best first. The image may be inside or outside the library; it is "
        "never listed itself.",
    )
    p.add_argument("image", help="an image inside or outside the library")
    p.add_argument("--in", dest="roots", nargs="+", metavar="PATH", required=True, help="library folders")
    p.add_argument("--top", type=int, default=20, metavar="N", help="how many photos to list (default 20)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON ('-' for stdout)")
    p.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="cosine similarity for near-duplicates, 0..1 (default: calibrated)",
    )
    add_engine_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from photofind.cli import EXIT_CANCELLED, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE
    from photofind.commands.textprogress import TextProgress
    from photofind.core.match.similar import SimilarIndex, SimilarSearchError
    from photofind.core.model.weights import WeightsUnavailable
    from photofind.core.pipeline import make_embedder, scan
    from photofind.core.progress import CancelToken

    image = Path(args.image)
    problem = _usage_problem(args, image)
    if problem:
        print(f"photofind similar: {problem}", file=sys.stderr)
        return EXIT_USAGE
    settings = settings_from_args(args, [str(Path(p).resolve()) for p in args.roots])
    query = str(image.resolve())
    outside = _outside(query, settings.roots)
    # An outside photo's thread loads the model (a bad weights file is named from there).
    embedder, why = make_embedder(settings, load=not outside)
    if embedder is None:
        print(f"photofind similar: {_NO_MODEL}: {why}", file=sys.stderr)
        return EXIT_USAGE
    cache = open_cache(args.cache, "photofind similar")
    if cache is None:
        return EXIT_USAGE
    ahead = _QueryAhead(query, embedder) if outside else None
    token = CancelToken()
    progress = TextProgress(token, enabled=not args.quiet)
    with cache:
        try:
            with cancel_on_sigint(token):
                result = scan(settings, embedder=embedder, cache=cache, progress=progress, group=False)
        except WeightsUnavailable as exc:  # new photos to embed, and the model would not load
            print(f"photofind similar: {_NO_MODEL}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            progress.close()
        if result.cancelled:
            print("cancelled: finished work is cached; run again to resume", file=sys.stderr)
            return EXIT_CANCELLED
        index = SimilarIndex.for_result(result, cache)
        try:
            # A link inside the library may resolve to the query: then it is a library photo.
            asked = ahead.query() if ahead is not None and index.row_of(query) is None else query
            hits = index.find(asked, args.top, embedder=embedder)
        except SimilarSearchError as exc:
            print(f"photofind similar: {exc}", file=sys.stderr)
            return EXIT_USAGE
    doc = {
        "query": query,
        "results": [
            {
                "path": result.records[h.index].path,
                "similarity": round(h.similarity, 6),
                "tier": h.tier.value if h.tier else None,
            }
            for h in hits
        ],
    }
    if args.json:
        try:
            _write_json(doc, args.json)
        except OSError as exc:
            print(f"photofind similar: cannot write {args.json}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_OUTPUT
    _print_results(doc, result, sys.stderr if args.json == "-" else sys.stdout)
    return EXIT_OK


_NO_MODEL = "needs the similarity model, which is not available"


class _QueryAhead:
    """A photo outside the library, read and embedded on a thread while the library is
    listed and its embeddings read: loading the model (torch's import, the weights) takes
    seconds and needs nothing from the library. Daemon, so a Ctrl-C does not wait for it."""

    def __init__(self, path: str, embedder: Any) -> None:
        self._path, self._embedder = path, embedder
        self._done = threading.Event()
        self._found: Any = None
        self._error: SimilarSearchError | None = None
        threading.Thread(target=self._run, name="photofind-query", daemon=True).start()

    def _run(self) -> None:
        from photofind.core.match.similar import SimilarSearchError, embed_query
        from photofind.core.model.weights import WeightsUnavailable

        try:
            self._found = embed_query(self._path, self._embedder)
        except SimilarSearchError as exc:
            self._error = exc
        except WeightsUnavailable as exc:
            self._error = SimilarSearchError(f"{_NO_MODEL}: {exc}")
        finally:
            self._done.set()

    def query(self) -> Any:
        """The embedded Query; raises SimilarSearchError when the photo could not be had."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._found


def _outside(path: str, roots: tuple[str, ...]) -> bool:
    """True when `path` lies in none of the library's folders (nor is one of its files)."""
    real = os.path.realpath(path)
    for root in map(os.path.realpath, roots):
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return False
    return True


def _usage_problem(args: argparse.Namespace, image: Path) -> str | None:
    from photofind.core.model.embed import device_problem

    if image.is_dir():
        return f"{args.image} is a folder; give one image (the library goes after --in)"
    if image.exists() and not image.is_file():
        return f"{args.image} is not a regular file"
    if not image.exists():
        return f"no such image: {args.image}"
    missing = [p for p in args.roots if not Path(p).exists()]
    if missing:
        return f"no such file or folder: {', '.join(missing)}"
    if args.top < 1:
        return "--top must be at least 1"
    if args.threshold is not None and not 0.0 < args.threshold <= 1.0:
        return "--threshold must be in (0, 1]"
    return output_problems({"--json": args.json}) or device_problem(args.device)


def _write_json(doc: dict[str, Any], target: str) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    write_text_atomic(text, target)


def _print_results(doc: dict[str, Any], result: Any, out) -> None:
    if result.model is not None and result.model.weights.startswith("random"):
        print("note: using RANDOM weights (testing only): similarities are not meaningful", file=out)
    print(f"{len(doc['results'])} photos most like {doc['query']}:", file=out)
    for r in doc["results"]:
        tier = f"  [{r['tier']}]" if r["tier"] else ""
        print(f"  {r['similarity']:.3f}  {r['path']}{tier}", file=out)
