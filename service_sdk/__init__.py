"""Base service classes, context and device selection for MMS model handlers."""
