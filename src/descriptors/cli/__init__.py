"""Command line: ``no3rr screen|status|analyze|lookup|validate|build|list|calculators``."""

from descriptors.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
