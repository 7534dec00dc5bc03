"""Scores of fitted histogram gradient-boosting models, column-wise.

scikit-learn's ``predict_proba`` and ``predict`` walk each row down each tree in turn;
the churn risk (:mod:`corecustomers.insights.risk`) scores a million customers three times
with a 150-tree model and the core ranking predicts a million customers' revenue, so
:func:`tree_scores` (a binary classifier's probability) and :func:`tree_predictions` (a
regressor's prediction) take each split as one comparison over a column of a block of
rows instead: the same leaves and the same sums in the same order, hence scikit-learn's
bits (``tests/insights/test_risk_speedups.py`` and ``test_ranking_speedups.py`` check
them).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["TREE_BLOCK", "Tree", "tree_arrays", "tree_predictions", "tree_scores"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


TREE_BLOCK: Final = 131_072
"""Rows whose leaves :func:`tree_scores` finds together (their columns stay in cache)."""


def tree_scores(model: Any, X: FloatArray, threads: int) -> FloatArray:
    """``model.predict_proba(X)[:, 1]`` of a fitted binary
    ``HistGradientBoostingClassifier``, bit for bit, in a sixth of its time.

    scikit-learn walks each row down each tree in turn (40 ns a row and tree, 6 s on one
    thread for a million customers and 150 trees); here each split is a comparison of a
    whole column of a block of rows, the outcomes of a tree's splits make a one-byte code
    of each row, and the tree's table of leaf values by code gives the rows' values in
    one pick (:func:`_leaf_table`; 6-7 ns a row and tree). The leaves are those
    scikit-learn finds (``x <= threshold`` goes left, NaN where ``missing_go_to_left``
    says) and each row's raw score adds the baseline and the trees' leaf values in the
    same order, so the sums are the same; blocks of rows go to ``threads`` threads
    (NumPy releases the GIL). A model with categorical splits or more than one tree per
    iteration is left to scikit-learn.
    """
    try:
        to_probability = model._loss.predict_proba
    except AttributeError:
        to_probability = None
    raw = None if to_probability is None else _raw_scores(model, X, threads)
    if raw is None:
        return np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    return np.asarray(to_probability(raw)[:, 1], dtype=np.float64)


def tree_predictions(model: Any, X: FloatArray, threads: int) -> FloatArray:
    """``model.predict(X)`` of a fitted ``HistGradientBoostingRegressor``, bit for bit:
    the raw scores as :func:`tree_scores` sums them, through the loss' inverse link (as
    scikit-learn's ``predict``); a model it cannot read is left to scikit-learn."""
    try:
        inverse = model._loss.link.inverse
    except AttributeError:
        inverse = None
    raw = None if inverse is None else _raw_scores(model, X, threads)
    if raw is None:
        return np.asarray(model.predict(X), dtype=np.float64)
    return np.asarray(inverse(raw.ravel()), dtype=np.float64)


def _raw_scores(model: Any, X: FloatArray, threads: int) -> FloatArray | None:
    """The raw scores (baseline plus the trees' leaf values, shape ``(n, 1)``) of a
    fitted histogram gradient-boosting model, or None when its trees cannot be read."""
    try:
        # scikit-learn's own (private) tree arrays, as its predict reads them; a release
        # that names them otherwise gets its own predict, never a wrong figure
        predictors = model._predictors
        simple = model.n_trees_per_iteration_ == 1 and not any(
            tree.nodes["is_categorical"].any() for (tree,) in predictors
        )
        trees = [tree_arrays(tree.nodes) for (tree,) in predictors] if simple else []
        baseline = model._baseline_prediction
    except (AttributeError, KeyError, TypeError, ValueError):
        simple = False
    if not simple:
        return None

    coded = [_leaf_table(tree, values) for tree, values in trees]

    def block(rows: FloatArray) -> FloatArray:
        columns = [np.ascontiguousarray(rows[:, j]) for j in range(rows.shape[1])]
        missing = [np.isnan(c) if np.isnan(c).any() else None for c in columns]
        n = len(rows)
        raw = np.zeros((n, 1), order="F")
        raw += baseline
        total = raw[:, 0]
        code = np.empty(n, dtype=np.uint8)
        goes_left = np.empty(n, dtype=bool)
        shifted = np.empty(n, dtype=np.uint8)
        picked = np.empty(n, dtype=np.float64)
        for (tree, values), table in zip(trees, coded, strict=True):
            if table is None:
                # node numbers in one byte where they fit: the picks move less memory
                kind = np.uint8 if len(values) <= 256 else np.intp
                total += values[_leaves(tree, 0, kind, columns, missing)]
                continue
            _leaf_code(tree, table[0], columns, missing, code, goes_left, shifted)
            # codes are below the table's length: 'wrap' only skips the bounds check's copy
            np.take(table[1], code, out=picked, mode="wrap")
            total += picked
        return raw

    blocks = [X[i : i + TREE_BLOCK] for i in range(0, len(X), TREE_BLOCK)] or [X]
    if threads > 1 and len(blocks) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(threads, len(blocks))) as pool:
            raws = list(pool.map(block, blocks))
    else:
        raws = [block(b) for b in blocks]
    return np.concatenate(raws) if len(raws) > 1 else raws[0]


#: The most splits a tree may have for its leaves to be found from a one-byte code.
CODE_BITS: Final = 8


def _leaf_table(tree: Tree, values: FloatArray) -> tuple[NDArray[np.intp], FloatArray] | None:
    """A tree's splits and the leaf value of each code of their outcomes, or None for a
    tree of more than :data:`CODE_BITS` splits.

    Bit ``k`` of a row's code is 1 when the row goes left at the tree's ``k``-th split
    (whether or not the row reaches it); entry ``c`` of the table is the value of the
    leaf that the outcomes ``c`` lead to from the root. So a row's leaf value is
    ``table[code]``, one pick per tree instead of a selection per split.
    """
    left, right, leaf_node = tree[3], tree[4], tree[5]
    splits = np.flatnonzero(~leaf_node)
    if len(splits) > CODE_BITS:
        return None
    bit = np.zeros(len(leaf_node), dtype=np.intp)
    bit[splits] = np.arange(len(splits))
    codes = np.arange(1 << len(splits))
    node = np.zeros(len(codes), dtype=np.intp)
    for _ in range(len(splits)):  # a path passes each split at most once
        inner = ~leaf_node[node]
        left_taken = (codes >> bit[node]) & 1 == 1
        node = np.where(inner, np.where(left_taken, left[node], right[node]), node)
    return splits, values[node]


def _leaf_code(
    tree: Tree,
    splits: NDArray[np.intp],
    columns: list[FloatArray],
    missing: list[BoolArray | None],
    code: NDArray[np.uint8],
    goes_left: BoolArray,
    shifted: NDArray[np.uint8],
) -> None:
    """Each row's code of the outcomes of ``splits`` (see :func:`_leaf_table`) into
    ``code``; ``goes_left`` and ``shifted`` are work arrays of the rows' length."""
    feature, threshold, left_missing = tree[0], tree[1], tree[2]
    if not len(splits):  # a tree of one leaf: every row's code is 0
        code.fill(0)
    for k, i in enumerate(splits):
        f = int(feature[i])
        out = code.view(np.bool_) if k == 0 else goes_left
        np.less_equal(columns[f], threshold[i], out=out)
        nan = missing[f]
        if left_missing[i] and nan is not None:
            np.bitwise_or(out, nan, out=out)
        if k:
            np.left_shift(goes_left.view(np.uint8), k, out=shifted)
            np.bitwise_or(code, shifted, out=code)


def _leaves(
    tree: Tree,
    i: int,
    kind: type[np.integer[Any]],
    columns: list[FloatArray],
    missing: list[BoolArray | None],
) -> Any:
    """The leaf each row of ``columns`` reaches from node ``i`` of ``tree`` (a module
    function, not a closure: a recursive closure is a reference cycle that would keep
    each block's columns alive until the cycle collector runs)."""
    feature, threshold, left_missing, left, right, leaf_node = tree
    if leaf_node[i]:
        return kind(i)
    f = int(feature[i])
    goes_left = columns[f] <= threshold[i]
    if left_missing[i] and missing[f] is not None:
        goes_left |= missing[f]
    return np.where(
        goes_left,
        _leaves(tree, int(left[i]), kind, columns, missing),
        _leaves(tree, int(right[i]), kind, columns, missing),
    )


Tree = tuple[NDArray[np.intp], FloatArray, BoolArray, NDArray[np.intp], NDArray[np.intp], BoolArray]


def tree_arrays(nodes: Any) -> tuple[Tree, FloatArray]:
    """A scikit-learn predictor's nodes as plain arrays (feature, threshold, whether NaN
    goes left, left and right child, is a leaf) and the nodes' values."""
    tree = (
        nodes["feature_idx"].astype(np.intp),
        nodes["num_threshold"].astype(np.float64),
        nodes["missing_go_to_left"].astype(bool),
        nodes["left"].astype(np.intp),
        nodes["right"].astype(np.intp),
        nodes["is_leaf"].astype(bool),
    )
    return tree, np.asarray(nodes["value"], dtype=np.float64)
