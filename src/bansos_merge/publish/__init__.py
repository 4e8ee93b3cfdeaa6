"""Publish: write a run's outputs into its own folder, then switch `latest` atomically."""
