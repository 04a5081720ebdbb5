"""Types of the GF(2^16) C extension (_gf16.c)."""

from collections.abc import Sequence

from typing_extensions import Buffer

def kernels() -> tuple[str, ...]: ...
def supports(original_count: int, recovery_count: int, /) -> bool: ...
def high_rate(original_count: int, recovery_count: int, /) -> bool: ...
def encode(kernel: str, originals: Sequence[Buffer], recovery_count: int, /) -> bytes: ...
def decode(
    kernel: str,
    original_count: int,
    recovery_count: int,
    indices: Sequence[int],
    shards: Sequence[Buffer],
    /,
) -> bytes: ...
