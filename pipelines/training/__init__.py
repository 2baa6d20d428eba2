"""The training engine: pure Python and PyTorch, no Django.

``config`` validates a run configuration, ``devices`` picks the accelerator, ``precision`` runs
fp32 / fp16 / bf16 / dynamic precision, ``engine.fit`` trains with metrics, early stopping and
atomic checkpoints (``checkpoint``), and ``distributed`` launches data-parallel processes.
``fit``'s steps live beside it: the setup in ``session``, the resume and the checkpoint step in
``run_state``, an epoch's training and its end in ``epoch``, the layer statistics in ``layer_stats``.
"""
