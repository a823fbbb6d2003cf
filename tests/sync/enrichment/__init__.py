"""Enrichment, scoring and automation."""
