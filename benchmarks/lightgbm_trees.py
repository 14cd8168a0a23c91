"""A trained LightGBM model as the arrays ``ollm_recall.search.ranker.Trees`` evaluates: training-only
code, so LightGBM is never needed where the model is used."""

from __future__ import annotations

import numpy as np

from ollm_recall.search.ranker import Trees


def trees_from_lightgbm(dump: dict[str, object]) -> Trees:
    """The arrays of a LightGBM model's ``dump_model()`` (numerical splits, ``<=``, no missing values)."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    depth = 0

    def add(node: dict, level: int) -> int:
        nonlocal depth
        depth = max(depth, level)
        number = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        value.append(0.0)
        if "leaf_value" in node:
            value[number] = float(node["leaf_value"])
            return number
        if node.get("decision_type") != "<=":
            raise ValueError(f"a split of type {node.get('decision_type')!r}")
        feature[number], threshold[number] = int(node["split_feature"]), float(node["threshold"])
        left[number] = add(node["left_child"], level + 1)
        right[number] = add(node["right_child"], level + 1)
        return number

    info = dump["tree_info"]
    assert isinstance(info, list)
    roots = [add(tree["tree_structure"], 0) for tree in info]
    return Trees(
        np.asarray(feature),
        np.asarray(threshold),
        np.asarray(left),
        np.asarray(right),
        np.asarray(value),
        np.asarray(roots),
        depth,
    )
