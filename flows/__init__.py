"""Prefect flows: the pipeline's tables of contents."""
