"""The protocol shared by the node and its clients: hashes, assignment, wire format, auth.

Pure and synchronous: no I/O, no clocks except the one handed to :class:`ReplayGuard`. Modules:
``hashes`` (keccak256), ``merkle`` (trees and proofs), ``headers`` (blob/batch headers and their
hashes), ``assignment`` (stake-weighted chunk assignment), ``messages`` (request and reply objects
and their proof checks), ``wire`` (binary encodings), ``auth`` (disperser signature and replay
guard), ``errors`` (the refusals, each with a machine ``code``).
"""

from operator_node.protocol.assignment import (
    OperatorStakes,
    compute_blob_assignment,
    compute_chunk_counts,
    compute_min_chunk_count,
    compute_operator_chunks,
    compute_quorum_assignment,
    validate_chunk_indices,
)
from operator_node.protocol.auth import (
    SIGNATURE_HEADER,
    STORE_CHUNKS_TAG,
    TIMESTAMP_HEADER,
    ReplayGuard,
    compute_auth_headers,
    compute_request_hash,
    compute_store_chunks_digest,
    parse_auth_headers,
    recover_disperser,
    sign_store_chunks,
)
from operator_node.protocol.errors import (
    BadProof,
    BadSignature,
    DisperserNotAllowed,
    InvalidBlob,
    InvalidOperatorState,
    InvalidSecurityParams,
    MalformedRequest,
    ProtocolError,
    ReplayGuardFull,
    ReplayRejected,
    RequestTooLarge,
    UnassignableBlob,
    WrongAssignment,
)
from operator_node.protocol.hashes import keccak256
from operator_node.protocol.headers import (
    BatchHeader,
    BlobHeader,
    QuorumParams,
    compute_batch_root,
    compute_batch_tree,
    compute_blob_commitment,
    compute_chunk_tree,
    validate_batch_root,
)
from operator_node.protocol.merkle import MerkleTree, compute_merkle_root, validate_merkle_proof
from operator_node.protocol.messages import (
    BlobChunks,
    RetrievalReply,
    StoreChunksRequest,
    select_blob_chunks,
    validate_blob_chunks,
    validate_retrieval_reply,
    validate_store_chunks,
)
from operator_node.protocol.wire import (
    CONTENT_TYPE,
    WireLimits,
    decode_retrieval_reply,
    decode_store_chunks,
    encode_retrieval_reply,
    encode_store_chunks,
    store_chunks_head,
)

__all__ = [
    "CONTENT_TYPE",
    "SIGNATURE_HEADER",
    "STORE_CHUNKS_TAG",
    "TIMESTAMP_HEADER",
    "BadProof",
    "BadSignature",
    "BatchHeader",
    "BlobChunks",
    "BlobHeader",
    "DisperserNotAllowed",
    "InvalidBlob",
    "InvalidOperatorState",
    "InvalidSecurityParams",
    "MalformedRequest",
    "MerkleTree",
    "OperatorStakes",
    "ProtocolError",
    "QuorumParams",
    "ReplayGuard",
    "ReplayGuardFull",
    "ReplayRejected",
    "RequestTooLarge",
    "RetrievalReply",
    "StoreChunksRequest",
    "UnassignableBlob",
    "WireLimits",
    "WrongAssignment",
    "compute_auth_headers",
    "compute_batch_root",
    "compute_batch_tree",
    "compute_blob_assignment",
    "compute_blob_commitment",
    "compute_chunk_counts",
    "compute_chunk_tree",
    "compute_merkle_root",
    "compute_min_chunk_count",
    "compute_operator_chunks",
    "compute_quorum_assignment",
    "compute_request_hash",
    "compute_store_chunks_digest",
    "decode_retrieval_reply",
    "decode_store_chunks",
    "encode_retrieval_reply",
    "encode_store_chunks",
    "keccak256",
    "parse_auth_headers",
    "recover_disperser",
    "select_blob_chunks",
    "sign_store_chunks",
    "store_chunks_head",
    "validate_batch_root",
    "validate_blob_chunks",
    "validate_chunk_indices",
    "validate_merkle_proof",
    "validate_retrieval_reply",
    "validate_store_chunks",
]
