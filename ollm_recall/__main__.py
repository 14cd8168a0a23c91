"""``python -m ollm_recall`` runs the ``ollm`` command."""

from .cli.app import main

main()
