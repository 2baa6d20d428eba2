"""The training engine: pure Python and PyTorch, no Django.

``config`` validates a run configuration, ``devices`` picks the accelerator, ``precision`` runs
fp32 / fp16 / bf16 / dynamic precision, ``engine.fit`` trains with metrics, early stopping and
atomic checkpoints (``checkpoint``), and ``distributed`` launches data-parallel processes.
"""
