"""The study layer: one place that turns *arms x seeds* into results, for every chapter.

* :mod:`.data` — SynthAV splits generated once per machine and cached; batching.
* :mod:`.executor` — independent runs on worker processes (CPU: single-threaded workers, as many as let
  equal runs finish together; GPU: several at once).
* :mod:`.runs` — :class:`Arm`, :class:`Run`, :class:`Study` (pre-training cached by content key,
  evaluation into a tidy frame, supervised ceilings).
* :mod:`.evaluate` — readouts that keep where and when, protocols (probe, kNN, fine-tune), the
  random-init and supervised references.
* :mod:`.gate` — the learning gate every chapter shows first, and claims decided from the frame.

A chapter declares arms and claims; it never writes its own pools, loaders, probes or claim writers.
"""
from .evaluate import EvalData, evaluate_encoder, layout_pool, paired_test_se, supervised_ceiling
from .executor import default_workers, parallel_map
from .gate import (Claim, claims_table, decide, describe_av_event_ceiling, describe_claims, describe_gate,
                   format_claims, format_gate, format_table, gate, gate_table, headline, record)
from .runs import RANDOM_INIT, SUPERVISED, Arm, Run, Study, session

__all__ = ["Arm", "Run", "Study", "session", "RANDOM_INIT", "SUPERVISED", "EvalData", "evaluate_encoder",
           "layout_pool", "paired_test_se", "supervised_ceiling", "default_workers", "parallel_map",
           "Claim", "claims_table", "decide", "describe_av_event_ceiling", "describe_claims", "describe_gate",
           "format_claims", "format_gate", "format_table", "headline", "gate", "gate_table", "record"]
