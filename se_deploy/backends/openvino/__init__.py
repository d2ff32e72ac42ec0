"""OpenVINO backend: backend.py (protocol), artifact.py, build.py (engine folder, inlined ONNX), runner.py (CPU)."""
