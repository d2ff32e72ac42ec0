"""Find Squeeze-and-Excitation subgraphs in an ONNX graph, whoever exported it.

Hand-rolled rather than onnxscript's pattern rewriter: an SE block is a chain anchored on a spatial
squeeze (squeeze -> FC -> activation -> FC -> gate -> Mul back onto the squeezed tensor), but every
link has several spellings (1x1 Conv, Gemm, MatMul+Add; Reshape/Flatten/Squeeze/Unsqueeze/Expand in
between; SiLU and hard sigmoid written out in arithmetic). As patterns that is a product of
alternatives; as a walk it is one module per link, each with the reasons its checks give, and the walk
knows where and why a candidate stopped matching, which is what ``inspect`` reports as a near miss.

    walk.py        the candidate's state (head, nodes taken), Stop / soft failures, views between links
    squeeze.py     GlobalAveragePool / ReduceMean(H, W)
    fc.py          1x1 Conv, Gemm, MatMul(+Add): W (out, in), b
    activation.py  ACTIVATION_OPS table, SiLU / hard swish written out
    gate.py        Sigmoid, HardSigmoid, WRITTEN_ARITHMETIC table for relu6(x + 3) / 6 and kin
    scale.py       Mul(x, gate), broadcast and shape-read checks, residual Add(+Relu)
    chain.py       find_se_blocks: walks every squeeze through the links, assembles the MatchReport
    report.py      SEBlock, ResidualTail, NearMiss, MatchReport

Run ``se_deploy.rewrite.normalize`` first (``fuse_se``/``strip_se`` do): it folds the exporters'
separate bias/scale ops into the Conv and drops no-ops, so the walk here sees one spelling.
"""

from se_deploy.rewrite.match.chain import find_se_blocks
from se_deploy.rewrite.match.report import MatchReport, NearMiss, ResidualTail, SEBlock
from se_deploy.rewrite.match.walk import STAGES

__all__ = ["STAGES", "MatchReport", "NearMiss", "ResidualTail", "SEBlock", "find_se_blocks"]
