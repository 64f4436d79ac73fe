"""Service classes."""
