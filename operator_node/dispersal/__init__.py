"""The node's side of dispersal: authenticate, validate, store and sign one StoreChunks request.

:class:`StoreChunksPipeline` runs the stages cheapest first; ``api/dispersal.py`` is its HTTP
front. The chain is seen through :class:`ChainView`, a narrow protocol the chain reader satisfies.
"""

from operator_node.dispersal.allowlist import DisperserAllowlist
from operator_node.dispersal.chain_view import ChainView
from operator_node.dispersal.errors import ChainUnavailable, DispersalError, StaleReferenceBlock
from operator_node.dispersal.pipeline import StoreChunksPipeline, StoreChunksResult

__all__ = [
    "ChainUnavailable",
    "ChainView",
    "DispersalError",
    "DisperserAllowlist",
    "StaleReferenceBlock",
    "StoreChunksPipeline",
    "StoreChunksResult",
]
