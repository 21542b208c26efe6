"""Data I/O: synthetic data sets, ``.npz``/``.csv`` files and image data sets."""
