"""The ``bnconvex`` command-line application (one module per subcommand).

The top layer: it imports the library, the claim framework and the figures;
nothing imports it.
"""
