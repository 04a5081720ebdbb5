"""Command-line entry point (filled in by the foundation)."""


def main() -> int:
    """Run the CLI; returns the process exit code."""
    return 0
