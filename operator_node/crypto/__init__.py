"""BN254 BLS signing, EigenLayer-compatible keystores and the node's signer.

* :mod:`operator_node.crypto.bn254`: points, ``hash_to_g1`` (the on-chain ``BN254.hashToG1``),
  group arithmetic and the pairing check.
* :mod:`operator_node.crypto.bls`: key pairs, signing, verification, aggregation, batch
  verification and the registration / aggregate-signature equations of the middleware contracts.
* :mod:`operator_node.crypto.signer`: the ``Signer`` protocol and ``LocalSigner``.
* :mod:`operator_node.crypto.keystore`: the ECDSA v3 keystore and eigensdk's BLS keystore.
"""
