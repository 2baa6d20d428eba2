"""The Open Inference Protocol (KServe v2) under ``/v2/`` as a small ASGI application with no Django:
it reads the deployment folder and the serving index the domain writes there, shares rate limits
and request counts through Redis, and runs models through ``pipelines.serving``. See
docs/serving.md."""
