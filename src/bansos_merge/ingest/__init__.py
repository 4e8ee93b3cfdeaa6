"""Ingest: agency CSV/Excel extracts to raw text tables with exact row numbers."""
