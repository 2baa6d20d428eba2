"""Compression, export and deployment models (see issue: compress, export and deploy)."""
