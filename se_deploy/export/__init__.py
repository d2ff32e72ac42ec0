"""The export stage: zoo model (+ checkpoint) -> ONNX verified against torch, written into the model repository.

``torch_model`` builds the PyTorch model (and its non-SE twin), ``torch_to_onnx`` writes one ONNX file,
``verify`` checks it against torch with ONNX Runtime, ``metadata`` says what travels with it, and ``job``
composes them all-or-nothing into the repository (the ``se-deploy export`` command).
"""
