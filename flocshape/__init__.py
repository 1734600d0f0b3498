"""flocshape: particle (floc) instance segmentation and shape metrology.

Stage scripts live in the top-level folders ``convert/``, ``train/``, ``infer/`` and ``datasets/``;
they are thin command-line wrappers around the modules of this package.
"""

__version__ = "0.1.0"
