"""maskedav: masked video and audio-visual self-supervised learning, re-implemented and re-run.

The thin shared library behind the notebooks of the book. Layers (imports only point up):
``profiles`` -> ``data`` -> building blocks (``nn``, ``masking``, ``losses``, ``teachers``) ->
``methods`` -> ``train`` / ``eval`` -> ``claims``, ``counting``, ``viz``, ``results`` -> ``book``.
"""
__version__ = "0.1.0"
