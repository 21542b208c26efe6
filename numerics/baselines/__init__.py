"""Non-convex baselines: local search (L-BFGS, GD) and minibatch SGD."""
