"""The daemon caps glibc's malloc arenas (device/runtime/memory.py): threads that
allocate at once share two arenas instead of one each."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from device.runtime.memory import malloc_heaps

PROGRAM = textwrap.dedent("""
    import sys, threading
    from device.runtime.memory import limit_malloc_arenas, malloc_heaps
    capped = limit_malloc_arenas() if sys.argv[1] == "cap" else False
    barrier = threading.Barrier(8)
    keep = []
    def work():
        barrier.wait()
        keep.append([bytearray(20_000) for _ in range(200)])  # C allocations, above pymalloc's 512 bytes
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(capped, malloc_heaps())
""")


def heaps_with(mode: str, **env) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True,
                         env=environ, timeout=60, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(malloc_heaps() is None, reason="not glibc: malloc_info(3) is glibc's")
def test_eight_allocating_threads_share_two_arenas_once_capped():
    capped, heaps = heaps_with("cap")
    assert capped == "True" and heaps <= 2, f"capped={capped}, {heaps} arenas"
    _, uncapped = heaps_with("none")
    assert uncapped > 2, f"glibc's default gave only {uncapped} arenas to 8 threads: the test shows nothing"


@pytest.mark.skipif(malloc_heaps() is None, reason="not glibc: malloc_info(3) is glibc's")
def test_an_arena_limit_in_the_environment_wins():
    capped, heaps = heaps_with("cap", MALLOC_ARENA_MAX="4")
    assert capped == "False" and 2 < heaps <= 4, f"capped={capped}, {heaps} arenas"
