"""Hypothesis strategies for small concrete instances (style.md 19-22).

Instances are built valid by construction (no filtering): arrays are drawn
directly with bounded, finite floats so that shrinking yields simpler data.
Strategies used by both the tests and the claim registry live in
``bnconvex.verify.strategies``; this module re-exports them for the tests.
"""

from __future__ import annotations
