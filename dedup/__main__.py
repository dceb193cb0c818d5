"""``python -m dedup`` runs the CLI."""

from .cli import main

main()
