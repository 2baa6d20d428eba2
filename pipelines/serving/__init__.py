"""Serving: load a model folder once per process and answer the Open Inference Protocol (KServe
v2). Pure Python, no Django: ``api/views_inference.py`` puts it on HTTP."""
