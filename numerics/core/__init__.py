"""The core model of the two-layer BN-ReLU network.

BN conventions, the network, whitening, activation patterns, the convex
program (R1), its dual certificate, reconstruction and closed forms.
"""
