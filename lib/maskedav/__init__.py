"""maskedav: masked video and audio-visual self-supervised learning, re-implemented and re-run.

The thin shared library behind the notebooks of the book. Layers (imports only point up):
``profiles`` -> ``data`` -> building blocks (``nn``, ``masking``, ``losses``, ``teachers``) ->
``methods`` -> ``train`` / ``eval`` -> ``claims``, ``counting``, ``viz``, ``results`` -> ``book``.
"""
__version__ = "0.1.0"


def _import_tqdm_auto_quietly() -> None:
    """Import ``tqdm.auto`` once, without its ``TqdmWarning: IProgress not found``.

    ``timm`` imports ``huggingface_hub``, which imports ``tqdm.auto``; in a Jupyter kernel without
    ``ipywidgets`` (the book's) that import warns and falls back to the text bar. The bar is what the
    book wants, so the first import (this one, cached in ``sys.modules`` for every later importer) is
    made with that one warning ignored; no filter stays installed."""
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        import tqdm.auto  # noqa: F401


_import_tqdm_auto_quietly()
