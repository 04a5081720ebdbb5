"""Allow ``python -m operator_node``."""

import sys

from operator_node.cli import main

sys.exit(main())
