"""Serving: load a model folder once per process and answer the Open Inference Protocol (KServe
v2). Pure Python, no Django: ``serving/`` (the serving app) puts it on HTTP."""
