"""Cascade token and head pruning: which tokens and heads each layer keeps (SpAtten §3.1-§3.2).

One object holds the decisions and the cumulative importance scores they are made on, so the
simulator (:func:`hwsim.spatten.simulate`) and the model run with the hardware inside it
(:mod:`hwsim.quality`) make the same decisions from the same scores with the same top-k engine.

* **Summarization** (an encoder, a decoder's prompt): before layer ``l > 0`` the token/head top-k
  engine keeps ``keep(l) x`` the original count of the previous layer's survivors, ranked by the
  cumulative token importance (probability mass received, summed over heads, queries and layers)
  and head importance (sum of |attention output|). Layer 0 cannot prune (no scores yet).
* **Generation** (a decoder's steps): the step's new token joins the candidates; layer ``l``
  keeps ``keep(l) x`` the current length from those that survived layer ``l - 1`` of this step
  and layer ``l`` of the previous step. Heads keep their summarization selection.

Scores keep accumulating through generation (:meth:`Cascade.absorb` after every attention).
"""

from __future__ import annotations

import numpy as np

from ..config import Policy
from ..units.topk import TopKParams
from ..units.topk import golden as topk_golden
from ..units.topk.hierarchical import select_hierarchical
from .functional import LayerResult, keep_count

__all__ = ["Cascade", "select_on_engine"]


def select_on_engine(scores: np.ndarray, candidates: np.ndarray, k: int, engine: TopKParams) -> tuple[np.ndarray, int]:
    """Top-k of ``candidates`` by ``scores`` on the token/head engine; return (kept, cycles).

    More candidates than the engine's ``max_n`` are selected hierarchically
    (:mod:`hwsim.units.topk.hierarchical`: the same kept set, the cycles of every request).
    """
    codes = topk_golden.quantize_scores(scores[candidates], engine.width)
    if codes.size > engine.max_n:
        idx, cycles = select_hierarchical(codes, k, lanes=engine.lanes, max_n=engine.max_n, seed=engine.seed,
                                          in_lanes=engine.in_lanes, width=engine.width)
    else:
        idx, cycles = topk_golden.select(codes, k, lanes=engine.lanes, seed=engine.seed, in_lanes=engine.in_lanes)
    return candidates[idx], int(cycles)


class Cascade:
    """The pruning state of one run: ``tokens`` positions (prompt + generated), ``heads`` query heads.

    Selections return ``(kind, cycles)`` pairs (``kind`` is ``"token"`` or ``"head"``, ``cycles``
    the token/head engine's golden cycles) so that a timing model can charge them.
    """

    def __init__(self, policy: Policy, engine: TopKParams, *, tokens: int, heads: int, layers: int, prompt: int):
        self.policy, self.engine, self.layers, self.prompt = policy, engine, layers, prompt
        self.n_heads = heads
        self.tok_score = np.zeros(tokens, np.float64)
        self.head_score = np.zeros(heads, np.float64)
        self.alive = np.arange(prompt)
        self.heads_alive = np.ones(heads, bool)
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []  # summarization: (tokens, heads mask) per layer
        self._prev: list[np.ndarray] | None = None
        self._carry: np.ndarray | None = None
        self._pos = -1

    # ------------------------------------------------------------------ summarization
    def summarize(self, layer: int) -> list[tuple[str, int]]:
        """Make layer ``layer``'s summarization selections (in order); :attr:`alive`, :attr:`heads_alive` follow."""
        made = []
        if layer > 0:
            tp, hp = self.policy.token_pruning, self.policy.head_pruning
            k_tok = keep_count(tp.keep(layer, self.layers), self.prompt)
            if tp.enabled and k_tok < self.alive.size:
                self.alive, cyc = select_on_engine(self.tok_score, self.alive, k_tok, self.engine)
                made.append(("token", cyc))
            k_head = keep_count(hp.keep(layer, self.layers), self.n_heads)
            if hp.enabled and k_head < self.heads_alive.sum():
                kept, cyc = select_on_engine(self.head_score, np.flatnonzero(self.heads_alive), k_head, self.engine)
                self.heads_alive = np.zeros(self.n_heads, bool)
                self.heads_alive[kept] = True
                made.append(("head", cyc))
        self.kept.append((self.alive.copy(), self.heads_alive.copy()))
        return made

    # ------------------------------------------------------------------ generation
    def begin_step(self, pos: int) -> None:
        """Start the generation step whose new token sits at position ``pos``."""
        if self._prev is None:
            self._prev = [s[0] for s in self.kept]
        self._pos, self._carry = pos, None

    def generate(self, layer: int) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
        """Layer ``layer`` of the current step: ``(candidate keys, heads mask, selections made)``."""
        own = np.append(self._prev[layer], self._pos)
        cand = own if self._carry is None else np.intersect1d(self._carry, own, assume_unique=True)  # both sorted, unique
        k_tok = keep_count(self.policy.token_pruning.keep(layer, self.layers), self._pos + 1)
        made = []
        if self.policy.token_pruning.enabled and k_tok < cand.size:
            cand, cyc = select_on_engine(self.tok_score, cand, k_tok, self.engine)
            made.append(("token", cyc))
        self._prev[layer] = cand  # the step's own token stays a candidate for later steps
        self._carry = cand
        return cand, self.kept[layer][1], made

    # ------------------------------------------------------------------ scores
    def absorb(self, res: LayerResult) -> None:
        """Add one attention's token and head importance to the cumulative scores."""
        self.tok_score += res.token_importance
        for hr in res.heads:
            self.head_score[hr.head] += hr.abs_out_sum
