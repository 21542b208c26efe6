"""High precision: mpmath whitening, refinement and certificates."""
