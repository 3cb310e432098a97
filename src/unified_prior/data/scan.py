"""Check every tile of a dataset when it is opened, before a run writes anything.

A bad tile used to be found when a batch first drew it: after ``--out`` held the config,
metrics, TensorBoard files and checkpoints (with a NaN tile, 16 updates and 5 checkpoints).
Now every file is read once up front and judged (``tile_check``). To keep that cheap on large
datasets, the facts of each file are cached by (path, size, mtime) under the cache folder
(``$UPRIOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/uprior``, else ``~/.cache/uprior``; an empty
``UPRIOR_CACHE_DIR`` turns the cache off), and files not in the cache are read by several
processes when there are many.

The cache holds facts, not verdicts: a changed config (resolution, channels) re-judges them
without reading again. It is one JSON file per tile folder, replaced atomically, so several
processes (DDP ranks) reading and writing it at once never see half a file; a cache that
cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import torch

from unified_prior.data.domains import Domain
from unified_prior.data.tile_check import TileFacts, judge, read_facts
from unified_prior.errors import InputError

log = logging.getLogger(__name__)

#: Bumped when the facts or their meaning change; torch's version is part of the key too,
#: since what ``weights_only=True`` accepts changes between releases.
CACHE_VERSION = 1
#: Below this many unread files, worker start-up costs more than it saves.
PARALLEL_MIN_FILES = 512
CHUNK_FILES = 256


def cache_dir() -> Path | None:
    """Where scan results are kept, or None when the cache is turned off."""
    env = os.environ.get("UPRIOR_CACHE_DIR")
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uprior"


class ScanCache:
    """Facts of the tiles of one folder, keyed by file name, valid for a (size, mtime)."""

    def __init__(self, folder: Path, directory: Path | None) -> None:
        self.folder = folder.resolve()
        self.file: Path | None = None
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        if directory is None:
            return
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:20]
        self.file = directory / "tile-scan" / f"{digest}.json"
        try:
            stored = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # no cache yet, or one cut short: scan afresh
        if (
            isinstance(stored, dict)
            and stored.get("key") == self._key()
            and isinstance(stored.get("tiles"), dict)
        ):
            self.entries = stored["tiles"]

    def _key(self) -> list[Any]:
        return [CACHE_VERSION, torch.__version__.split("+")[0], str(self.folder)]

    def get(self, name: str, stamp: tuple[int, int]) -> TileFacts | None:
        entry = self.entries.get(name)
        if not isinstance(entry, list) or len(entry) != 3 or (entry[0], entry[1]) != stamp:
            return None
        try:
            return TileFacts.from_json(entry[2])
        except (TypeError, ValueError):
            return None

    def put(self, name: str, stamp: tuple[int, int], facts: TileFacts) -> None:
        self.entries[name] = [*stamp, facts.to_json()]
        self.changed = True

    def save(self) -> None:
        if self.file is None or not self.changed:
            return
        text = json.dumps({"key": self._key(), "tiles": self.entries}, separators=(",", ":"))
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".scan.", suffix=".tmp", dir=self.file.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.file)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        except OSError as err:  # a read-only or full cache folder only costs speed
            log.debug("tile scan cache %s not written: %s", self.file, err)


def _read_chunk(paths: list[Path]) -> list[TileFacts | str]:
    torch.set_num_threads(1)  # the processes are the parallelism
    return [read_facts(p) for p in paths]


def read_all(paths: Sequence[Path]) -> tuple[list[TileFacts | str], int]:
    """``read_facts`` of every path, in order, and the number of processes that read them
    (forked workers when there are many files).

    Threads do not help (unpickling holds the GIL); fork is what DataLoader workers use on
    Linux, and each worker reads whole chunks to keep the hand-off cheap.
    """
    workers = min(os.cpu_count() or 1, 8, len(paths) // CHUNK_FILES)
    fork = sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
    if len(paths) < PARALLEL_MIN_FILES or workers < 2 or not fork:
        return [read_facts(p) for p in paths], 1
    chunks = [list(paths[i : i + CHUNK_FILES]) for i in range(0, len(paths), CHUNK_FILES)]
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            read = [facts for chunk in pool.map(_read_chunk, chunks) for facts in chunk]
        return read, workers
    except (BrokenProcessPool, OSError) as err:  # e.g. no room for processes: read here
        log.debug("parallel tile scan failed (%s); reading in this process", err)
        return [read_facts(p) for p in paths], 1


def scan_tiles(paths: Sequence[Path], domains: Sequence[Domain], resolution: int) -> dict[str, int]:
    """Raise ``InputError`` naming the first unusable tile (in ``paths`` order).

    ``domains[i]`` is the domain of ``paths[i]``. Returns counts for the caller's log and
    the benchmark: ``files``, ``read`` (those not in the cache) and ``processes`` (that read
    them).
    """
    directory = cache_dir()
    # Strings, not Path objects, in this loop: hashing and comparing Paths cost more than
    # the stat itself (a cached open of 100,000 tiles is this loop).
    caches: dict[str, ScanCache] = {}
    folders: list[str] = []
    facts: list[TileFacts | str | None] = []
    stamps: list[tuple[int, int]] = []
    missing: list[int] = []
    for i, path in enumerate(paths):
        folder, _, name = os.fspath(path).rpartition(os.sep)
        cache = caches.get(folder)
        if cache is None:
            cache = caches[folder] = ScanCache(Path(folder), directory)
        try:
            st = os.stat(os.fspath(path))
        except OSError as err:
            raise InputError(f"tile {path}: cannot read it ({err.strerror})") from None
        stamp = (st.st_size, st.st_mtime_ns)
        stamps.append(stamp)
        folders.append(folder)
        found = cache.get(name, stamp)
        facts.append(found)
        if found is None:
            missing.append(i)
    read_facts_, processes = read_all([paths[i] for i in missing])
    for i, read in zip(missing, read_facts_, strict=True):
        facts[i] = read
        if isinstance(read, TileFacts):  # files that do not load are read again next time
            caches[folders[i]].put(paths[i].name, stamps[i], read)
    for cache in caches.values():
        cache.save()
    for path, fact, domain in zip(paths, facts, domains, strict=True):
        assert fact is not None
        problem = judge(path, fact, domain, resolution)
        if problem is not None:
            raise InputError(problem)
    return {"files": len(paths), "read": len(missing), "processes": processes}
