"""Ingest: the sources, the loop every source runs in, and their health."""
