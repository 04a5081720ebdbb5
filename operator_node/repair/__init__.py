"""Self-healing storage: the batches this node should hold, found from the chain, and those it
lacks rebuilt from its peers (``rebuild``) by a background service (``service``)."""
