"""Downstream evaluation of frozen or fine-tuned encoders. Every metric is in percent.

``extract_features`` -> ``linear_probe`` / ``svm_probe`` / ``knn_accuracy``; ``finetune`` (end to
end, layer decay); ``retrieval_recall_at_k`` (cross-modal R@K); ``localization`` (cIoU, AUC, pointing).
"""
from .features import encode, extract_features, pool_tokens
from .finetune import FinetuneModel, FinetuneResult, classification_accuracy, finetune
from .knn import knn_accuracy, knn_classify
from .linear_probe import ProbeResult, accuracy, fit_logistic, linear_probe, svm_probe
from .localization import binarize, iou_per_frame, localization, pointing_hits
from .retrieval import retrieval_ranks, retrieval_recall_at_k

__all__ = ["encode", "extract_features", "pool_tokens", "FinetuneModel", "FinetuneResult",
           "classification_accuracy", "finetune", "knn_accuracy", "knn_classify", "ProbeResult",
           "accuracy", "fit_logistic", "linear_probe", "svm_probe", "binarize", "iou_per_frame",
           "localization", "pointing_hits", "retrieval_ranks", "retrieval_recall_at_k"]
