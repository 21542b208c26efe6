"""Extensions of the two-layer model.

Deep networks (R4), BN after the ReLU (R6), general convex losses (R5) and
the implicit-bias experiment.
"""
