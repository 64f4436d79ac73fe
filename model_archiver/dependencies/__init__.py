"""Per-model Python dependencies that travel inside the archive (``lib/``) for MMS, which installs nothing."""
from model_archiver.dependencies.bootstrap import BOOTSTRAP_MODULE, LIB_DIR, bootstrap_source, user_handler
from model_archiver.dependencies.imports import SERVER_PROVIDED, undeclared_imports
from model_archiver.dependencies.install import PipOptions, VendoredRequirements, install_requirements

__all__ = ["BOOTSTRAP_MODULE", "LIB_DIR", "SERVER_PROVIDED", "PipOptions", "VendoredRequirements",
           "bootstrap_source", "install_requirements", "undeclared_imports", "user_handler"]
