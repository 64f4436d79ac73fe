"""Build-time validation of MXNet/MMS model files, on a directory or an opened archive.

No CLI code and no MXNet import here: every check reads files through a
:class:`~model_archiver.sources.FileSource` and returns
:class:`~model_archiver.validation.report.Problem` objects.
"""
from model_archiver.validation.report import Problem, failing
from model_archiver.validation.validate import validate_archive, validate_directory, validate_source

__all__ = ["Problem", "failing", "validate_archive", "validate_directory", "validate_source"]
