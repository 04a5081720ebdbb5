"""The node's HTTP surface (aiohttp): the AVS node-spec API, dispersal, retrieval and metrics.

This is the only package that turns the node's exceptions into HTTP status codes.
"""
