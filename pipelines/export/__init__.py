"""Exports of a model package: ONNX (dynamic batch), TorchScript, the native bundle and standalone
PyTorch source, each verified on the spot against the PyTorch model. Pure, no Django."""
