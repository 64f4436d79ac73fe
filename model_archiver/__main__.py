"""``python -m model_archiver`` runs the CLI (handy where scripts are not on PATH)."""
from model_archiver.cli import main

main()
