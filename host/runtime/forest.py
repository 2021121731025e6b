"""The routing forest and leaf experts in numpy, from an artifact's arrays.

The same mathematics as codegen/training/model.py (SoftForest), vectorised over any leading batch
dimensions: p_l = mean over trees of the product of branch probabilities on leaf l's path,
y = sum_l p_l f_l(h) with f_l(h) = MLP_l(h) the expert's class scores, probabilities softmax(y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -z)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def path_matrices(depth: int) -> tuple[np.ndarray, np.ndarray]:
    """left[n, l] / right[n, l]: 1 where leaf l's path turns left / right at inner node n.

    Nodes breadth-first (children of n: 2n+1 left, 2n+2 right), leaves left to right.
    """
    inner, leaves = 2 ** depth - 1, 2 ** depth
    left = np.zeros((inner, leaves))
    right = np.zeros((inner, leaves))
    for leaf in range(leaves):
        node = 0
        for level in range(depth):
            go_right = (leaf >> (depth - 1 - level)) & 1
            (right if go_right else left)[node, leaf] = 1.0
            node = 2 * node + 1 + go_right
    return left, right


@dataclass(frozen=True)
class ForestPath:
    """The most probable root-to-leaf path for one latent: which tree, the nodes and turns taken."""
    tree: int
    leaf: int
    probability: float
    nodes: tuple[int, ...]
    turns: str            # "L"/"R" per level


class Forest:
    def __init__(self, arrays: dict[str, np.ndarray], trees: int, depth: int):
        self.trees, self.depth = trees, depth
        self.W1, self.b1 = arrays["experts.W1"], arrays["experts.b1"]
        self.W2, self.b2 = arrays["experts.W2"], arrays["experts.b2"]
        self.leaves = self.W1.shape[0]
        if depth > 0:
            self.node_w, self.node_b = arrays["router.w"], arrays["router.b"]
            self.left, self.right = path_matrices(depth)
        if self.leaves != 2 ** depth:
            raise ValueError(f"{self.leaves} experts for a depth-{depth} forest (needs {2 ** depth})")

    @classmethod
    def from_config(cls, arrays: dict[str, np.ndarray], config: dict) -> "Forest":
        m = config["model"]
        return cls(arrays, m["trees"], m["depth"])

    def tree_leaf_probs(self, h: np.ndarray) -> np.ndarray:
        """(..., trees, leaves): each tree's own leaf distribution."""
        z = h @ self.node_w + self.node_b
        z = z.reshape(z.shape[:-1] + (self.trees, 2 ** self.depth - 1))
        return np.exp(_log_sigmoid(z) @ self.left + _log_sigmoid(-z) @ self.right)

    def leaf_probs(self, h: np.ndarray) -> np.ndarray:
        if self.depth == 0:
            return np.ones(h.shape[:-1] + (1,))
        return self.tree_leaf_probs(h).mean(axis=-2)

    def expert_scores(self, h: np.ndarray) -> np.ndarray:
        """f_l(h) for every leaf: (..., leaves, classes)."""
        hidden = np.maximum(np.einsum("...h,lhe->...le", h, self.W1) + self.b1, 0.0)
        return np.einsum("...le,lec->...lc", hidden, self.W2) + self.b2

    def predict(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities softmax(y) (..., classes) and p (..., leaves) for latents h (..., hidden)."""
        p = self.leaf_probs(h)
        return _softmax(np.einsum("...l,...lc->...c", p, self.expert_scores(h))), p

    def most_probable_path(self, h: np.ndarray) -> ForestPath:
        """For one latent (hidden,): the single tree path with the highest probability."""
        if self.depth == 0:
            return ForestPath(0, 0, 1.0, (), "")
        tl = self.tree_leaf_probs(h)
        tree, leaf = np.unravel_index(int(np.argmax(tl)), tl.shape)
        nodes, turns, node = [], [], 0
        for level in range(self.depth):
            go_right = (leaf >> (self.depth - 1 - level)) & 1
            nodes.append(node)
            turns.append("R" if go_right else "L")
            node = 2 * node + 1 + go_right
        return ForestPath(int(tree), int(leaf), float(tl[tree, leaf]), tuple(nodes), "".join(turns))


def fallback_predict(arrays: dict[str, np.ndarray], h: np.ndarray) -> np.ndarray:
    """The distilled fallback expert (float): h -> class probabilities."""
    hidden = np.maximum(h @ arrays["fallback.W1"] + arrays["fallback.b1"], 0.0)
    return _softmax(hidden @ arrays["fallback.W2"] + arrays["fallback.b2"])
