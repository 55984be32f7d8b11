"""The book's machinery: discover notebooks, execute them with papermill in dependency order
with a content-hash cache, report where every manifest artifact stands, and build the HTML.

Command line: ``python -m maskedav.book {run,status,build,list}`` (see ``--help``).
"""
from .registry import Notebook, cache_key, discover, execution_order
from .runner import RunResult, run_book

__all__ = ["Notebook", "cache_key", "discover", "execution_order", "RunResult", "run_book"]
