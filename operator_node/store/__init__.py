"""The durable chunk store: batches written atomically, read by (batch hash, blob index), expired.

:class:`LmdbStore` implements the synchronous :class:`ChunkStore` interface; :class:`AsyncStore`
runs one or several of them (the shards of one store, see :mod:`operator_node.store.shards`) off
the event loop; :class:`ExpiryService` deletes expired batches in the background.
The key layout is documented in :mod:`operator_node.store.layout`.
"""

from operator_node.store.async_store import (
    STORE_SERVICE_ID,
    AsyncStore,
    open_store,
    register_store_health,
)
from operator_node.store.errors import (
    StoreClosedError,
    StoreError,
    StoreFormatError,
    StoreFullError,
    StoreInputError,
    StoreLockedError,
)
from operator_node.store.expiry import ExpiryPass, ExpiryService
from operator_node.store.lmdb_store import FORMAT_VERSION, LmdbStore
from operator_node.store.model import (
    BytesLike,
    ChunkSet,
    ChunkStore,
    ExpiredBatches,
    StoredBatch,
    StoredBlob,
    StoreStats,
)

__all__ = [
    "FORMAT_VERSION",
    "STORE_SERVICE_ID",
    "AsyncStore",
    "BytesLike",
    "ChunkSet",
    "ChunkStore",
    "ExpiredBatches",
    "ExpiryPass",
    "ExpiryService",
    "LmdbStore",
    "StoreClosedError",
    "StoreError",
    "StoreFormatError",
    "StoreFullError",
    "StoreInputError",
    "StoreLockedError",
    "StoreStats",
    "StoredBatch",
    "StoredBlob",
    "open_store",
    "register_store_health",
]
