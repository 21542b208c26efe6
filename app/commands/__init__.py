"""Subcommands of the ``bnconvex`` command line, one module each.

Each module exposes ``add_parser(subparsers)`` (which calls
``parser.set_defaults(run=run)``) and ``run(args) -> int``.
"""
