"""Model compression: structured channel pruning mapped back to graph documents, int8
quantization, and the before/after report. Pure PyTorch / ONNX Runtime, no Django."""
