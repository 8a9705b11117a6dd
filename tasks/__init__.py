"""Pipeline stages: plain functions, each wrapped by a thin Prefect task."""
