"""`photofind similar IMAGE --in PATH...`: the photos of a library most like one image.

A query, not a scan (photofind.core.query): the library's files are listed by name and what
the cache knows about them is taken as it is; only photos it does not know are read, the
library is never grouped, and the photos returned are checked against their files first. The
image is embedded the way the scan embeds photos unless the library holds it, and
photofind.core.match.similar ranks the library and pixel-checks only the top hits.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from photofind.commands.common import (
    add_engine_options,
    cancel_on_sigint,
    open_cache,
    output_problems,
    settings_from_args,
)
from photofind.core.output import write_text_atomic


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
    from photofind.cli import EXIT_OK, EXIT_OUTPUT, EXIT_USAGE

    image = Path(args.image)
    problem = _usage_problem(args, image)
    if problem:
        print(f"photofind similar: {problem}", file=sys.stderr)
        return EXIT_USAGE
    roots = [str(Path(p).resolve()) for p in args.roots]
    query = str(image.resolve())
    ahead = _ModelAhead() if _outside(query, roots) else None  # first: torch's import is the longest step
    settings = settings_from_args(args, roots)
    embedder, problem = _embedder(settings, ahead)
    if embedder is None:
        print(f"photofind similar: {problem}", file=sys.stderr)
        return EXIT_USAGE
    cache = open_cache(args.cache, "photofind similar")
    if cache is None:
        return EXIT_USAGE
    with cache:
        found = _search(args, settings, embedder, cache, query)
    if isinstance(found, int):
        return found
    library, hits = found
    doc = {
        "query": query,
        "results": [
            {
                "path": library.path(h.index),
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
    _print_results(doc, embedder.model, sys.stderr if args.json == "-" else sys.stdout)
    return EXIT_OK


_NO_MODEL = "needs the similarity model, which is not available"
# torch threads for the one photo from outside the library (the fold of the weights, one
# inference). While they run, the main thread is still reading the library: more torch
# threads than the cores left stall at every layer's barrier (ingest.ThreadPlan). Measured
# on 2 cores at load 5-7: fold and first inference 0.37 s with one thread, 1.36 s with two.
# What a quiet machine with more cores gives up is those two steps' speed-up, at most
# their one-thread time.
_QUERY_THREADS = 1


def _embedder(settings: Any, ahead: _ModelAhead | None) -> tuple[Any, str | None]:
    """The embedder, or (None, why not); handed to `ahead` in any case. Its model loads only
    when a photo must be embedded: a query by a photo of a cached library never imports torch
    (a bad weights file is named when it is loaded)."""
    embedder, problem = None, None
    try:
        from photofind.core.model.embed import device_problem
        from photofind.core.pipeline import make_embedder

        problem = device_problem(settings.device)
        if problem is None:
            embedder, why = make_embedder(settings, load=False)
            if embedder is None:
                problem = f"{_NO_MODEL}: {why}"
            elif ahead is not None:
                embedder.set_threads(_QUERY_THREADS)
    finally:
        if ahead is not None:
            ahead.load(embedder)
    return embedder, problem


def _search(args: argparse.Namespace, settings: Any, embedder: Any, cache: Any, query: str) -> Any:
    """(library, hits), or the exit code after saying what went wrong."""
    from photofind.cli import EXIT_CANCELLED, EXIT_USAGE
    from photofind.commands.textprogress import TextProgress
    from photofind.core.match.similar import SimilarSearchError
    from photofind.core.model.weights import WeightsUnavailable
    from photofind.core.progress import Cancelled, CancelToken
    from photofind.core.query import open_library

    token = CancelToken()
    progress = TextProgress(token, enabled=not args.quiet)
    try:
        with cancel_on_sigint(token):
            library = open_library(settings, embedder, cache, progress=progress)
            return library, library.find(query, args.top)
    except Cancelled:
        print("cancelled: finished work is cached; run again to resume", file=sys.stderr)
        return EXIT_CANCELLED
    except WeightsUnavailable as exc:  # photos to embed, and the model would not load
        print(f"photofind similar: {_NO_MODEL}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SimilarSearchError as exc:
        print(f"photofind similar: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        progress.close()


class _ModelAhead:
    """The model for a photo from outside the library, loaded on a thread from the first
    moment: torch's import is the longest step of such a query, and needs nothing the main
    thread works out meanwhile (the weights file's hash, the library). Daemon, so a Ctrl-C
    does not wait for it. A load that fails is left to the main thread's embed(), which
    loads again and raises the error where it is reported."""

    def __init__(self) -> None:
        self._embedder: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="photofind-model", daemon=True).start()

    def load(self, embedder: Any) -> None:
        """Load `embedder` once torch is imported (None: the thread ends)."""
        self._embedder.put(embedder)

    def _run(self) -> None:
        import torch  # noqa: F401 - the import is the first half of the work

        from photofind.core.model.weights import WeightsUnavailable

        embedder = self._embedder.get()
        if embedder is not None:
            try:
                embedder.load()
            except WeightsUnavailable:
                pass


def _outside(path: str, roots: Sequence[str]) -> bool:
    """True when `path` lies in none of the library's folders (nor is one of its files)."""
    real = os.path.realpath(path)
    for root in map(os.path.realpath, roots):
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return False
    return True


def _usage_problem(args: argparse.Namespace, image: Path) -> str | None:
    """What is wrong with the arguments, found without importing numpy or torch (the device
    is checked by _embedder, once torch's import may have started)."""
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
    return output_problems({"--json": args.json})


def _write_json(doc: dict[str, Any], target: str) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    write_text_atomic(text, target)


def _print_results(doc: dict[str, Any], model: Any, out) -> None:
    if model.weights.startswith("random"):
        print("note: using RANDOM weights (testing only): similarities are not meaningful", file=out)
    print(f"{len(doc['results'])} photos most like {doc['query']}:", file=out)
    for r in doc["results"]:
        tier = f"  [{r['tier']}]" if r["tier"] else ""
        print(f"  {r['similarity']:.3f}  {r['path']}{tier}", file=out)
