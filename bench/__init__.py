"""Benchmarks: the pipeline against a plain Keras script of the seed notes."""
