"""The daemon's malloc: few arenas, because a Pi Zero 2 W has 512 MB.

glibc gives each thread that allocates its own malloc arena, up to eight per core,
and an arena keeps the pages it has touched. The daemon runs a dozen threads (sensors,
MQTT, scheduler, the web server's workers), so most of what grows after start-up is
arenas, not data: measured over every dashboard page (``benchmarks.daemon_memory``),
peak resident memory was 80.9 MB with glibc's default and 73.8 MB with two arenas, at
the same start-up time and CPU. Python's own objects live in its pymalloc pools,
which arenas do not affect; only C-level allocations (numpy arrays, SQLite, zlib)
share the two arenas.

:func:`limit_malloc_arenas` must run before the threads start; it does what
``MALLOC_ARENA_MAX=2`` in the environment does, without needing the service file or
the shell to set it, and an environment value wins. On a C library that is not glibc
it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2


def _libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process at ``arenas``; True if it is capped.
    ``MALLOC_ARENA_MAX`` in the environment, when set, is left to glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(arenas)))
    log.debug("malloc arenas capped at %d: %s", arenas, ok)
    return ok


def malloc_heaps() -> int | None:
    """How many malloc arenas (heaps) this process has now, from ``malloc_info(3)``;
    None where that is not glibc's."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_info") or not hasattr(libc, "open_memstream"):
        return None
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    libc.open_memstream.restype = ctypes.c_void_p
    fp = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not fp:
        return None
    try:
        libc.malloc_info(0, ctypes.c_void_p(fp))
    finally:
        libc.fclose(ctypes.c_void_p(fp))
    try:
        return ctypes.string_at(buf, size.value).count(b"<heap nr=")
    finally:
        libc.free(buf)
