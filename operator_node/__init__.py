"""operator-node: an EigenLayer operator node for an EigenDA-style data-availability AVS."""

__version__ = "0.1.0"
