"""SE-native ONNX Runtime CPU engines: ORT's own optimized NCHWc graph, with each SE block rewritten.

ORT's blocked-layout (NCHWc) transformer cannot keep the SE's broadcast ``Mul`` blocked, so every SE
block pays layout reorders and loses the residual ``Add``+``Relu`` fusion. This package optimizes the
model with ORT itself, rewrites each SE block of the saved optimized graph into stock ORT kernels that
stay blocked (see :mod:`.rewrite`), verifies the result against stock ORT, and records the platform it
is valid on (ORT version, CPU ISA, NCHWc block size).
"""
