"""Reserved bandwidth and on-demand payment (see docs/payments.md).

- ``vault``: the AVS's payment vault on chain, read and written (the CLI's ``payments``);
- ``accounts``: the vault's reservations, deposits and parameters, held in memory by the node
  and refreshed from the chain;
- ``bucket``: the leaky bucket that meters a rate;
- ``meter``: a batch's blobs metered against their accounts, all or nothing;
- ``errors``: why a payment is refused, each with its code.
"""
