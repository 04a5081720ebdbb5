"""The node's chain side: contract discovery, reads, transactions, registration, and the service
that keeps registration, socket, stake metrics and chain health current while the node runs.

Built on web3.py's ``AsyncWeb3`` over an instrumented HTTP provider (:mod:`.rpc`), with the ABIs
of the project's own contracts (``artifacts/``, compiled from ``contracts/src``), which share
EigenLayer's function signatures.
"""
