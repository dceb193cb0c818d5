"""Boilerplate classification: rules as data (:mod:`.rules`) and the classifier stage."""

from .classifier import Classifier, RuleClassifier, classify, cookie_evidence

__all__ = ["Classifier", "RuleClassifier", "classify", "cookie_evidence"]
