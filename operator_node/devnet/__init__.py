"""A local devnet: anvil as a real JSON-RPC node, with the contracts deployed on it."""
