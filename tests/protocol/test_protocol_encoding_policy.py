"""The config's fingerprint policies are the protocol's (the config keeps its own copy)."""

from operator_node import config
from operator_node.protocol import encoding


def test_config_lists_the_protocol_policies() -> None:
    assert config.FINGERPRINT_POLICIES == encoding.FINGERPRINT_POLICIES
    assert config.DispersalSection().fingerprint == "required"
