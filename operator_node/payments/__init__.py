"""Reserved bandwidth and on-demand payment: the AVS's payment vault on chain (``vault``) and
the leaky bucket that meters a rate (``bucket``)."""
