"""Normalisation: raw agency values to canonical, comparable values (vectorised, originals kept)."""
