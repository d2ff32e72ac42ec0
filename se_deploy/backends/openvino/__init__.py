"""OpenVINO backend: engine folder (inlined ONNX), builder, CPU runner."""
