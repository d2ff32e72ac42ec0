"""ONNX Runtime backend: engine description, builder, runner."""
