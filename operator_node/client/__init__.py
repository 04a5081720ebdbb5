"""The other side of the protocol: a disperser and a retriever, usable as a library."""
