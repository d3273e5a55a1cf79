"""The misbehaviours themselves."""

import sys

CHUNK = 1 << 20


def spin_forever():
    """Spins forever."""
    counter = 0
    while True:
        counter += 1


def exhaust_memory():
    """Allocates 1 MiB chunks filled with 0xA5 forever, until the memory limit stops it."""
    hoard = []
    while True:
        hoard.append(b"\xa5" * CHUNK)


def overflow_stack():
    """Recurses without bound, with the interpreter's recursion limit lifted: the wasm
    stack (or CPython's own C-stack guard) gives out first. Returns the depth reached if
    a RecursionError stops it instead of a trap."""
    sys.setrecursionlimit(10_000_000)
    depth = [0]

    def down(n):
        depth[0] = n
        return down(n + 1) + 1

    try:
        down(0)
    except RecursionError:
        return depth[0]
    return depth[0]


def hoard(text, copies):
    """Holds `copies` distinct copies of `text` and returns their total length."""
    held = [(text + " ")[:-1] for _ in range(copies)]
    return sum(len(t) for t in held)
