"""ONNX Runtime backend: backend.py (protocol), artifact.py, build.py, runner.py; native/ (SE-native graphs)."""
