"""Helpers for handlers: image, ndarray, nlp."""
