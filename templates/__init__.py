"""Handler scaffolds copied by `model-archiver init` (package data: model_archiver.templates)."""
