"""The build config file (``model-archiver.toml``): every build option in one reviewed file."""
from model_archiver.config.build_config import (
    CONFIG_FILE_NAME,
    BuildConfig,
    build_from_config,
    find_config,
    load_config,
    serving_extension,
)

__all__ = ["CONFIG_FILE_NAME", "BuildConfig", "build_from_config", "find_config", "load_config",
           "serving_extension"]
