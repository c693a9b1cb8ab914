"""What a trained classifier's card tells its reader, derived from the run's evaluation results.

`run._finish` calls `describe` after scoring the validation and test splits; the result goes into
the checkpoint's meta and from there, unchanged, into the exported card: every figure with the split
it was measured on, confusion matrices, what the displayed probability means and how the operating
threshold was chosen, and what the model was not validated for. Pure: numbers in, JSON-ready out.
"""

from __future__ import annotations

from typing import Any

# Held-out first: `cxrviewer models` shows the first. "external" is a source or named part that played
# no part in training or selection (`splits.part_split`): its figures carry scope "external"; the
# others are parts of the training sources, scope "internal".
SPLIT_NAMES = {"external": "external test", "test": "test", "val": "validation"}
SCOPE_OF = {"external": "external", "test": "internal", "val": "internal"}
# Figures copied from a split's scores into the card, with the key of their interval when there is one.
CARD_FIGURES = {
    "accuracy": None, "auc": "auc_ci95", "f1": "f1_ci95", "sensitivity": None, "specificity": None,
    "precision": None, "mcc": None, "ece": None, "brier": None, "dice": None, "iou": None,
}


def card_metrics(results: dict[str, Any], labels: tuple[str, ...], split_method: str) -> list[dict[str, Any]]:
    """Every card figure of every evaluated split: name, value, split (named with its method), ci95."""
    metrics = []
    for key, name in SPLIT_NAMES.items():
        scores = results.get(key)
        if not scores:
            continue
        where = f"{name} (n={scores.get('n', '?')}): {split_method}"
        scope = SCOPE_OF[key]
        for figure, ci_key in CARD_FIGURES.items():
            if figure in scores:
                ci = scores.get(ci_key) if ci_key else None
                metrics.append({"name": figure, "value": float(scores[figure]), "split": where,
                                "ci95": [float(v) for v in ci] if ci else None, "scope": scope})
        for label, value in zip(labels, scores.get("f1_per_class", []), strict=False):
            metrics.append({"name": f"f1[{label}]", "value": float(value), "split": where, "ci95": None, "scope": scope})
    return metrics


def card_confusion(results: dict[str, Any], split_method: str) -> list[dict[str, Any]]:
    return [
        {"split": f"{name}: {split_method}", "matrix": [[int(v) for v in row] for row in results[key]["confusion"]]}
        for key, name in SPLIT_NAMES.items() if results.get(key) and "confusion" in results[key]
    ]


def probability_meaning(results: dict[str, Any], labels: tuple[str, ...], threshold_rule: str) -> str:
    """A reader's sentence: what the shown percentage is and how the finding is decided, with the
    operating point's sensitivity/specificity on validation and test data."""
    test = results.get("test") or {}
    calibration = (f" On the test split the expected calibration error is {test['ece']:.3f} "
                   f"(0 = the percentages match observed frequencies)." if "ece" in test else "")
    common = ("The percentage is the model's softmax output. Training weighted the classes to balance "
              "them, so it is not adjusted to any clinic's prevalence and is not a post-test probability.")
    threshold = results.get("threshold")
    if len(labels) == 2 and threshold is not None:
        parts = []
        for key, name in SPLIT_NAMES.items():
            s = results.get(key)
            if s and "sensitivity" in s:
                parts.append(f"{name}: sensitivity {s['sensitivity']:.3f}, specificity {s['specificity']:.3f}")
        rule = "Youden's J" if threshold_rule == "youden" else f"the {threshold_rule} rule"
        return (f"{common} The finding '{labels[1]}' is called at {labels[1]} ≥ {threshold:.3f}, the operating "
                f"threshold chosen on the validation split by {rule} ({'; '.join(parts)}).{calibration}")
    return (f"{common} The finding is the most probable of {', '.join(labels)}; no threshold was tuned "
            f"(the probabilities sum to 1).{calibration}")


def describe(
    results: dict[str, Any], labels: tuple[str, ...], split_method: str, threshold_rule: str, data_description: str,
) -> dict[str, Any]:
    """The card fields a classifier run contributes: metrics, confusion, probability_meaning, limits."""
    return {
        "metrics": card_metrics(results, labels, split_method),
        "confusion": card_confusion(results, split_method),
        "probability_meaning": probability_meaning(results, labels, threshold_rule),
        "limits": [
            *([f"The external test is a named part of the training data ({data_description}) that played no part "
               "in training or selection (another acquisition period or hospital); the model is not validated on other "
               "sources, scanners, populations or ages."] if results.get("external") else
              [f"Trained and tested on {data_description} only; not validated on other sources, scanners, "
               "populations or ages."]),
            "Not validated for clinical use: a research tool that shows what the model sees, not a diagnosis.",
        ],
    }
