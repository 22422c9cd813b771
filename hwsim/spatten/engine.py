"""The generation timeline compiled: simpy's semantics, event for event, in one numba pass per segment.

:class:`hwsim.spatten.timing.Timeline` models generation rows as simpy processes (``Timeline._row`` and
the generators it calls). A generated token of a 30-layer decoder is ~270 such rows of ~35 events each,
and simpy's Python event loop was ~40 % of a generation run. This module runs the *same* processes as
explicit state machines over integer arrays: the same events created in the same order, scheduled on a
heap ordered as simpy's is (time, priority, insertion id), resources granted as simpy grants them (one
user, FIFO, the next request granted when the release is processed), the key SRAM as a
``simpy.Container`` (FIFO gets, head-of-line blocking), conditions as ``all_of``, and the same stall
records (jobs' waits, units' uses) and event log. So every cycle, wait and log line equals the simpy
run's, which stays in ``Timeline`` as the reference: tests run both and compare them
(``tests/hwsim/spatten/test_engine.py``), and ``Timeline`` falls back to it for anything this module
reports it cannot replay (an overflow of its tables, or work still in flight when a segment ends).

A *segment* is what one ``Timeline.drain()`` runs: the layers queued since the previous drain (each
layer's rows, its completion condition and the marks on it), then optionally one token/head selection
(``Timeline.select``). Between segments nothing is in flight, so each segment starts from idle units, a
full key SRAM and an empty event heap.

Line references in comments (``_row``, ``_scores``, ``_hold``, ``_in_order``, ``_fetch_once``,
``_transfer``, ``_v_fetch``, ``_stream``, ``_release``) name the ``Timeline`` method each state machine
mirrors; change both together.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..units.hbm import first_line_cycles

__all__ = ["ROW_COLUMNS", "CAUSE_FOLLOW", "LOG_UNITS", "USE_UNITS", "run_segment"]

#: Columns of a segment's row table (one row per ``RowWork``, in queueing order).
ROW_COLUMNS = ("step", "layer", "head", "group", "lsb_slot", "k_fetch", "qk", "softmax", "requant", "lsb_fetch",
               "t_fill", "t_topk", "t_filter", "topk_fill", "v_fetch", "pv", "held", "passes", "k_stream",
               "topk_emit", "job", "gen", "after")
(_STEP, _LAYER, _HEAD, _GRP, _SLOT, _KF, _QK, _SM, _RQ, _LF, _TF0, _TF1, _TF2, _FILL, _VF, _PV, _HELD, _PASSES,
 _KS, _EMIT, _JOB, _GEN, _AFTER) = range(len(ROW_COLUMNS))
#: Stall causes as codes: explain.CAUSES order, then "follow the job in the fourth column".
CAUSE_FOLLOW = 5
_HBM_C, _LAYER_C, _SRAM_C, _SELECT_C, _PIPE_C = range(5)
#: Units of the use records (explain.EXPLAIN_UNITS order) and of the log (Timeline's log names).
USE_UNITS = ("hbm", "qk", "softmax", "pq", "topk", "pv", "select")
LOG_UNITS = ("hbm", "qk", "softmax", "topk_fill", "topk", "topk_filter", "pv")
# resources: HBM, Q x K, softmax, prob x V, the local-V engine's three stages, the selection engine
_R_HBM, _R_QK, _R_SM, _R_PV, _R_FILL, _R_TOPK, _R_FILTER, _R_SELECT, _R_SRAM = range(9)
# callback kinds
_CB_RESUME, _CB_TRIG_RES, _CB_TRIG_SRAM, _CB_CHECK, _CB_STOP, _CB_MARK = range(6)
# process kinds
_P_ROW, _P_HOLD, _P_VFETCH, _P_RELEASE = range(4)
_URGENT, _NORMAL = 0, 1
_NONE = np.iinfo(np.int64).min  # "not set" (a missing shared key in Timeline)
# scalar state
(_NOW, _EID, _NHEAP, _NEV, _NCB, _NW, _NU, _NL, _NP, _LEVEL, _ERR, _NMK, _STOPPED, _SELQ, _CAP) = range(15)
#: rows of the largest segment run here (about 80 MB of tables); a longer one (an authors'-conventions CSV
#: replay has no drains: all its rows are one segment) runs in simpy
MAX_ROWS = 5_000
#: error codes of :func:`run_segment` (0: none)
ERR_OVERFLOW, ERR_DEADLOCK, ERR_IN_FLIGHT = 1, 2, 3


# ---------------------------------------------------------------------------------------------- kernel
# The small helpers every event goes through are inlined into their callers (numba IR inlining): a call
# passes the state tuple of nine arrays, and its reference counting was most of a row's time
# (19 -> 12 us per generation row of smollm2; the first compile takes ~18 s longer, once, then is cached).
@njit(cache=True, inline='always')
def _less(H, i, j):
    a, b = H[i], H[j]
    if a[0] != b[0]:
        return a[0] < b[0]
    if a[1] != b[1]:
        return a[1] < b[1]
    return a[2] < b[2]


@njit(cache=True, inline='always')
def _schedule(st, ev, prio, delay):
    S, H = st[0], st[1]
    n = S[_NHEAP]
    if n >= H.shape[0]:
        S[_ERR] = ERR_OVERFLOW
        return
    H[n, 0] = S[_NOW] + delay
    H[n, 1] = prio
    H[n, 2] = S[_EID]
    H[n, 3] = ev
    S[_EID] += 1
    S[_NHEAP] = n + 1
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if _less(H, i, parent):
            for c in range(4):
                H[i, c], H[parent, c] = H[parent, c], H[i, c]
            i = parent
        else:
            break
    st[2][ev, 0] = 1  # triggered


@njit(cache=True, inline='always')
def _pop(st):
    S, H = st[0], st[1]
    n = S[_NHEAP] - 1
    t, ev = H[0, 0], H[0, 3]
    for c in range(4):
        H[0, c] = H[n, c]
    S[_NHEAP] = n
    i = 0
    while True:
        left, right, best = 2 * i + 1, 2 * i + 2, i
        if left < n and _less(H, left, best):
            best = left
        if right < n and _less(H, right, best):
            best = right
        if best == i:
            break
        for c in range(4):
            H[i, c], H[best, c] = H[best, c], H[i, c]
        i = best
    return t, ev


@njit(cache=True, inline='always')
def _event(st):
    S, E = st[0], st[2]
    ev = S[_NEV]
    if ev >= E.shape[0]:
        S[_ERR] = ERR_OVERFLOW
        return E.shape[0] - 1
    S[_NEV] = ev + 1
    E[ev, 0] = 0
    E[ev, 1] = -1
    E[ev, 2] = -1
    E[ev, 3] = -1
    E[ev, 4] = 0
    return ev


@njit(cache=True, inline='always')
def _callback(st, ev, kind, arg):
    S, E, C = st[0], st[2], st[3]
    cb = S[_NCB]
    if cb >= C.shape[0]:
        S[_ERR] = ERR_OVERFLOW
        return
    S[_NCB] = cb + 1
    C[cb, 0] = kind
    C[cb, 1] = arg
    C[cb, 2] = -1
    if E[ev, 1] == -1:
        E[ev, 1] = cb
    else:
        C[E[ev, 2], 2] = cb
    E[ev, 2] = cb


@njit(cache=True, inline='always')
def _timeout(st, delay):
    ev = _event(st)
    _schedule(st, ev, _NORMAL, delay)
    return ev


@njit(cache=True, inline='always')
def _suspend(st, p, ev):
    """``yield ev`` of process ``p``: True when it must wait (the event is not processed yet)."""
    if st[2][ev, 0] == 2:
        return False
    _callback(st, ev, _CB_RESUME, p)
    return True


@njit(cache=True, inline='always')
def _trig_res(st, r):
    """A resource's ``_trigger_put``: the head of its queue gets it if it is free."""
    Res, E = st[4], st[2]
    head = Res[r, 1]
    if Res[r, 0] == -1 and head != -1:
        Res[r, 1] = E[head, 3]
        if Res[r, 1] == -1:
            Res[r, 2] = -1
        Res[r, 0] = head
        _schedule(st, head, _NORMAL, 0)


@njit(cache=True, inline='always')
def _request(st, r):
    Res, E = st[4], st[2]
    ev = _event(st)
    if Res[r, 2] == -1:
        Res[r, 1] = ev
    else:
        E[Res[r, 2], 3] = ev
    Res[r, 2] = ev
    _trig_res(st, r)
    return ev


@njit(cache=True, inline='always')
def _release(st, r):
    rel = _event(st)
    _callback(st, rel, _CB_TRIG_RES, r)
    st[4][r, 0] = -1
    _schedule(st, rel, _NORMAL, 0)


@njit(cache=True, inline='always')
def _trig_sram(st):
    """The key SRAM's ``_trigger_get``: grant queued gets in order while they fit."""
    S, Res, E = st[0], st[4], st[2]
    while Res[_R_SRAM, 1] != -1:
        head = Res[_R_SRAM, 1]
        if S[_LEVEL] < E[head, 4]:
            break
        S[_LEVEL] -= E[head, 4]
        Res[_R_SRAM, 1] = E[head, 3]
        if Res[_R_SRAM, 1] == -1:
            Res[_R_SRAM, 2] = -1
        _schedule(st, head, _NORMAL, 0)


@njit(cache=True, inline='always')
def _sram_get(st, amount):
    Res, E = st[4], st[2]
    ev = _event(st)
    E[ev, 4] = amount
    if Res[_R_SRAM, 2] == -1:
        Res[_R_SRAM, 1] = ev
    else:
        E[Res[_R_SRAM, 2], 3] = ev
    Res[_R_SRAM, 2] = ev
    _trig_sram(st)
    return ev


@njit(cache=True, inline='always')
def _sram_put(st, amount):
    ev = _event(st)
    _callback(st, ev, _CB_TRIG_SRAM, 0)
    if st[0][_LEVEL] + amount > st[0][_CAP]:  # more than was taken: simpy would queue the put (not modelled here)
        st[0][_ERR] = ERR_IN_FLIGHT
    st[0][_LEVEL] += amount
    _schedule(st, ev, _NORMAL, 0)
    return ev


@njit(cache=True, inline='always')
def _append(S, T, count, values):
    """Append ``values`` (a tuple, one per column) to the record table ``T`` of ``S[count]`` rows."""
    n = S[count]
    if n >= T.shape[0]:
        S[_ERR] = ERR_OVERFLOW
        return
    for c in range(len(values)):
        T[n, c] = values[c]
    S[count] = n + 1


@njit(cache=True, inline='always')
def _wait(st, job, cause, follow):
    """``Timeline._wait``: from now on ``job`` waits for ``cause`` (``CAUSE_FOLLOW``: what ``follow`` waits for)."""
    _append(st[0], st[5], _NW, (job, st[0][_NOW], cause, follow))


@njit(cache=True, inline='always')
def _use(st, unit, job, t0):
    """``Timeline._use``: ``unit`` served ``job`` from ``t0`` until now."""
    _append(st[0], st[6], _NU, (unit, job, t0, st[0][_NOW]))


@njit(cache=True, inline='always')
def _log(st, K, unit, what, step, layer, head):
    """``Timeline._note`` (``what``: 0 start, 1 end), when the log is kept."""
    if K[7]:
        _append(st[0], st[7], _NL, (st[0][_NOW], unit, what, step, layer, head))


@njit(cache=True)
def _process(st, kind, row):
    """``env.process``: a new process (its own event, an urgent Initialize); returns its index."""
    S, P = st[0], st[8]
    p = S[_NP]
    if p >= P.shape[0]:
        S[_ERR] = ERR_OVERFLOW
        return P.shape[0] - 1
    S[_NP] = p + 1
    P[p, :] = -1
    P[p, 0] = kind
    P[p, 1] = 0
    P[p, 2] = _event(st)
    P[p, 3] = row
    init = _event(st)
    _callback(st, init, _CB_RESUME, p)
    _schedule(st, init, _URGENT, 0)
    return p


@njit(cache=True)
def _hold_process(st, res, cycles, logu, useu, step, layer, head, job, granted):
    p = _process(st, _P_HOLD, -1)
    P = st[8]
    P[p, 4] = res
    P[p, 5] = cycles
    P[p, 6] = logu
    P[p, 7] = useu
    P[p, 8] = job
    P[p, 9] = granted
    P[p, 12] = step
    P[p, 13] = layer
    P[p, 14] = head
    return p


@njit(cache=True)
def _finish(st, p):
    _schedule(st, st[8][p, 2], _NORMAL, 0)


@njit(cache=True)
def _hold_step(st, K, p):
    """``Timeline._hold`` as a process (a streaming transfer, a tiled group's K stream, a selection)."""
    P = st[8]
    pc = P[p, 1]
    if pc == 0:
        P[p, 10] = _request(st, P[p, 4])
        P[p, 1] = 1
        _suspend(st, p, P[p, 10])
    elif pc == 1:
        if P[p, 9] != -1:
            _schedule(st, P[p, 9], _NORMAL, 0)  # granted.succeed()
        P[p, 11] = st[0][_NOW]
        _log(st, K, P[p, 6], 0, P[p, 12], P[p, 13], P[p, 14])
        P[p, 1] = 2
        _suspend(st, p, _timeout(st, P[p, 5]))
    else:
        _log(st, K, P[p, 6], 1, P[p, 12], P[p, 13], P[p, 14])
        _use(st, P[p, 7], P[p, 8], P[p, 11])
        _release(st, P[p, 4])
        _finish(st, p)


@njit(cache=True)
def _vfetch_step(st, K, R, RL, p):
    """``Timeline._v_fetch``: a row's streaming V fetch, requested ``delay`` cycles after it is spawned."""
    P = st[8]
    i = P[p, 3]
    while True:
        pc = P[p, 1]
        if pc == 0:
            P[p, 1] = 1
            if P[p, 5] > 0:
                _suspend(st, p, _timeout(st, P[p, 5]))
                return
        elif pc == 1:
            g = _event(st)
            P[p, 9] = g
            _hold_process(st, _R_HBM, R[i, _VF], 0, 0, R[i, _STEP], R[i, _LAYER], R[i, _HEAD], R[i, _JOB], g)
            P[p, 1] = 2
            _suspend(st, p, g)
            return
        elif pc == 2:
            RL[i, _RL_VIN] = st[0][_NOW] + R[i, _VF] + K[5]  # v_row[("in",)]: the last line lands
            P[p, 1] = 3
            _suspend(st, p, _timeout(st, first_line_cycles(R[i, _VF], R[i, _PV]) + K[5]))
            return
        else:
            _finish(st, p)
            return


@njit(cache=True)
def _release_step(st, p):
    """``Timeline._release``: give a group's key SRAM space back ``delay`` cycles after it is spawned."""
    P = st[8]
    while True:
        pc = P[p, 1]
        if pc == 0:
            P[p, 1] = 1
            if P[p, 5] > 0:
                _suspend(st, p, _timeout(st, P[p, 5]))
                return
        elif pc == 1:
            P[p, 1] = 2
            _suspend(st, p, _sram_put(st, P[p, 4]))
            return
        else:
            _finish(st, p)
            return


@njit(cache=True)
def _last_of_group(Gs, g):
    Gs[g, 3] -= 1
    return Gs[g, 3] == 0


# row locals: pass, lead, top-k stage, the V fetch process, V's last line, the first pass's K line limit,
# then the hold routine's and the transfer's arguments
(_RL_PASS, _RL_LEAD, _RL_STAGE, _RL_VREADY, _RL_VIN, _RL_KIN, _RL_T0, _RL_REQ, _RL_PROC, _RL_RES, _RL_CYC,
 _RL_LOGU, _RL_USEU, _RL_UNTIL, _RL_MINE, _RL_EMIT, _RL_RET, _RL_LINES, _RL_INTO, _RL_RET2) = range(20)
_HOLD = 100  # the row's hold routine (pcs 100-104)
_STREAMED, _STORED = 110, 112  # the row's transfer: streaming, first line in (110); store and forward (112)
_AWAITED = 114  # a transfer the row waited for has finished


@njit(cache=True)
def _call_hold(P, RL, p, i, res, cycles, logu, useu, until, mine, emit, ret):
    """Enter the hold routine: ``Timeline._hold`` (``mine``/``emit`` -1) or ``Timeline._in_order`` after its
    turn (``mine``: the turn event to succeed once granted; ``emit`` >= 0: spawn the V fetch that many
    cycles in); ``until``: the cycle the hold may not end before (``_NONE``); back at pc ``ret``."""
    RL[i, _RL_RES] = res
    RL[i, _RL_CYC] = cycles
    RL[i, _RL_LOGU] = logu
    RL[i, _RL_USEU] = useu
    RL[i, _RL_UNTIL] = until
    RL[i, _RL_MINE] = mine
    RL[i, _RL_EMIT] = emit
    RL[i, _RL_RET] = ret
    P[p, 1] = _HOLD


@njit(cache=True)
def _transfer(st, K, R, RL, p, i, cycles, lines, into, ret):
    """``Timeline._transfer`` of ``cycles`` for row ``i`` (process ``p``), then back at pc ``ret``; True when
    the row must wait now.

    Streaming: a hold process takes the HBM; once granted, the cycle the last line lands goes to ``into``
    (0: the group's K, 1: its LSB plane) and the row waits for the first of ``lines`` lines. Store and
    forward: the hold routine, then the read latency."""
    P = st[8]
    if K[0]:
        gr = _event(st)
        _hold_process(st, _R_HBM, cycles, 0, 0, R[i, _STEP], R[i, _LAYER], R[i, _HEAD], R[i, _JOB], gr)
        RL[i, _RL_CYC] = cycles
        RL[i, _RL_LINES] = lines
        RL[i, _RL_INTO] = into
        RL[i, _RL_RET] = ret
        P[p, 1] = _STREAMED
        _suspend(st, p, gr)
        return True
    _call_hold(P, RL, p, i, _R_HBM, cycles, 0, 0, _NONE, -1, -1, _STORED)
    RL[i, _RL_RET2] = ret
    return False


@njit(cache=True)
def _await_transfer(st, RL, p, i, job, q, ret):
    """Row ``i`` waits (stalled on HBM) for process ``q`` (a transfer; -1: none) unless it has finished, then
    goes on at pc ``ret``; True when it must wait now."""
    P = st[8]
    P[p, 1] = ret
    if q == -1 or st[2][P[q, 2], 0] == 2:
        return False
    _wait(st, job, _HBM_C, -1)
    RL[i, _RL_RET] = ret
    P[p, 1] = _AWAITED
    _suspend(st, p, P[q, 2])
    return True


@njit(cache=True)
def _row_step(st, K, R, RL, MINE, PREV, Gs, Ls, Cd, p):
    """``Timeline._row`` (with ``_fetch_once``, ``_transfer``, ``_scores``, ``_hold``, ``_in_order`` inlined)."""
    S, E, P = st[0], st[2], st[8]
    i = P[p, 3]
    job = R[i, _JOB]
    g = R[i, _GRP]
    slot = R[i, _SLOT]
    step, layer, head = R[i, _STEP], R[i, _LAYER], R[i, _HEAD]
    while True:
        pc = P[p, 1]
        if pc == 0:  # _fetch_once(key): the group's K (and the query) into the key SRAM
            if Gs[g, 0] != -1:
                _wait(st, job, CAUSE_FOLLOW, Gs[g, 1])
                P[p, 1] = 10
                if _suspend(st, p, Gs[g, 0]):
                    return
            else:
                Gs[g, 0] = _event(st)
                Gs[g, 1] = job
                _wait(st, job, _SRAM_C, -1)
                P[p, 1] = 1
                _suspend(st, p, _sram_get(st, R[i, _HELD]))
                return
        elif pc == 1:
            P[p, 1] = 5
            if R[i, _KF]:
                _wait(st, job, _HBM_C, -1)
                if _transfer(st, K, R, RL, p, i, R[i, _KF], R[i, _QK], 0, 5):
                    return
        elif pc == 5:
            _schedule(st, Gs[g, 0], _NORMAL, 0)  # ready.succeed()
            P[p, 1] = 10
        elif pc == 10:  # the query needs the previous layer's output
            P[p, 1] = 11
            a = R[i, _AFTER]
            if a != -1:
                _wait(st, job, _LAYER_C, -1)
                if a >= 0 and _suspend(st, p, Cd[a, 0]):  # -2: a layer of an earlier segment (done)
                    return
        elif pc == 11:
            if R[i, _KS] and Gs[g, 4] == -1:  # the group's K for its later passes streams behind (_stream)
                Gs[g, 4] = _hold_process(st, _R_HBM, R[i, _KS], 0, 0, step, layer, head, job, -1)
            RL[i, _RL_PASS] = 0
            RL[i, _RL_KIN] = Gs[g, 2]  # Q x K of the first pass ends no earlier than the group's last K line
            P[p, 1] = 20
        elif pc == 20:  # _scores: Q x K, its latency, softmax
            _wait(st, job, _PIPE_C, -1)
            _call_hold(P, RL, p, i, _R_QK, R[i, _QK], 1, 1, RL[i, _RL_KIN], -1, -1, 24)
        elif pc == 24:
            P[p, 1] = 25
            _suspend(st, p, _timeout(st, K[2]))
            return
        elif pc == 25:
            _call_hold(P, RL, p, i, _R_SM, R[i, _SM], 2, 2, _NONE, -1, -1, 27)
        elif pc == 27:
            last = RL[i, _RL_PASS] == R[i, _PASSES] - 1
            any_topk = R[i, _TF0] != 0 or R[i, _TF1] != 0 or R[i, _TF2] != 0
            lead = min(R[i, _FILL], K[3]) if (any_topk and last) else 0
            RL[i, _RL_LEAD] = lead
            P[p, 1] = 40
            if RL[i, _RL_PASS] == 0 and R[i, _RQ]:
                P[p, 1] = 30
            _suspend(st, p, _timeout(st, K[3] - lead))
            return
        elif pc == 30:  # _fetch_once(lsb key): the LSBs, once the first pass has made the decision
            if Ls[slot, 0] != -1:
                _wait(st, job, CAUSE_FOLLOW, Ls[slot, 1])
                P[p, 1] = 40
                if _suspend(st, p, Ls[slot, 0]):
                    return
            else:
                Ls[slot, 0] = _event(st)
                Ls[slot, 1] = job
                P[p, 1] = 35
                if R[i, _LF]:
                    _wait(st, job, _HBM_C, -1)
                    if _transfer(st, K, R, RL, p, i, R[i, _LF], R[i, _QK], 1, 35):
                        return
        elif pc == 35:
            _schedule(st, Ls[slot, 0], _NORMAL, 0)
            P[p, 1] = 40
        elif pc == 40:  # the next pass, if any
            RL[i, _RL_PASS] += 1
            if RL[i, _RL_PASS] < R[i, _PASSES]:
                RL[i, _RL_KIN] = Ls[slot, 2] if RL[i, _RL_PASS] == 1 else _NONE
                P[p, 1] = 20
            else:
                P[p, 1] = 50
        elif pc == 50:  # the last pass ends with the group's last K tile
            if _await_transfer(st, RL, p, i, job, Gs[g, 4], 52):
                return
        elif pc == 52:
            if K[1] and _last_of_group(Gs, g):  # K leaves at its last requant decision
                rp = _process(st, _P_RELEASE, -1)
                P[rp, 4] = R[i, _HELD]
                P[rp, 5] = RL[i, _RL_LEAD]
            _wait(st, job, _PIPE_C, -1)
            RL[i, _RL_STAGE] = 0
            P[p, 1] = 60
        elif pc == 60:  # the local-V engine's stages in order (_in_order): first the turn
            u = RL[i, _RL_STAGE]
            while u < 3 and R[i, _TF0 + u] == 0:
                u += 1
            RL[i, _RL_STAGE] = u
            if u == 3:
                P[p, 1] = 70
            else:
                P[p, 1] = 61
                prev = PREV[i, u]
                if prev != -1 and _suspend(st, p, MINE[prev, u]):
                    return
        elif pc == 61:
            u = RL[i, _RL_STAGE]
            cycles = R[i, _TF0 + u]
            last_used = True
            for v in range(u + 1, 3):
                if R[i, _TF0 + v] != 0:
                    last_used = False
            emit = -1
            if K[0] and R[i, _VF] and last_used:  # V is requested from the engine's first output beat
                emit = max(0, cycles - R[i, _EMIT])
            _call_hold(P, RL, p, i, _R_FILL + u, cycles, 3 + u, 4, _NONE, MINE[i, u], emit, 63)
        elif pc == 63:
            RL[i, _RL_STAGE] += 1
            P[p, 1] = 60
        elif pc == 70:  # no selection ran, or store and forward: V is fetched now
            P[p, 1] = 75
            if R[i, _VF] and RL[i, _RL_VREADY] == -1:
                if K[0]:
                    RL[i, _RL_VREADY] = _process(st, _P_VFETCH, i)
                    P[RL[i, _RL_VREADY], 5] = 0
                else:
                    _wait(st, job, _HBM_C, -1)
                    _transfer(st, K, R, RL, p, i, R[i, _VF], R[i, _PV], 0, 73)
        elif pc == 73:
            _wait(st, job, _PIPE_C, -1)
            P[p, 1] = 75
        elif pc == 75:  # prob x V starts on the first V line and ends no earlier than the last
            if _await_transfer(st, RL, p, i, job, RL[i, _RL_VREADY], 77):
                return
        elif pc == 77:
            P[p, 1] = 78
            prev = PREV[i, 3]
            if prev != -1 and _suspend(st, p, MINE[prev, 3]):
                return
        elif pc == 78:
            _call_hold(P, RL, p, i, _R_PV, R[i, _PV], 6, 5, RL[i, _RL_VIN], MINE[i, 3], -1, 82)
        elif pc == 82:
            P[p, 1] = 83
            _suspend(st, p, _timeout(st, K[4]))
            return
        elif pc == 83:
            P[p, 1] = 84
            if not K[1] and _last_of_group(Gs, g):
                _suspend(st, p, _sram_put(st, R[i, _HELD]))
                return
        elif pc == _HOLD:  # the hold routine: request, then (once granted) its turn and V fetch, the wait
            RL[i, _RL_REQ] = _request(st, RL[i, _RL_RES])  # for the data's last line, the service
            P[p, 1] = _HOLD + 1
            _suspend(st, p, RL[i, _RL_REQ])
            return
        elif pc == _HOLD + 1:
            if RL[i, _RL_MINE] != -1:
                _schedule(st, RL[i, _RL_MINE], _NORMAL, 0)  # mine.succeed()
            if RL[i, _RL_EMIT] >= 0:
                vp = _process(st, _P_VFETCH, i)
                P[vp, 5] = RL[i, _RL_EMIT]
                RL[i, _RL_VREADY] = vp
            P[p, 1] = _HOLD + 3
            u = RL[i, _RL_UNTIL]
            if u != _NONE:
                extra = max(0, u - S[_NOW] - RL[i, _RL_CYC])
                if extra:
                    _wait(st, job, _HBM_C, -1)
                    P[p, 1] = _HOLD + 2
                    _suspend(st, p, _timeout(st, extra))
                    return
        elif pc == _HOLD + 2:
            _wait(st, job, _PIPE_C, -1)
            P[p, 1] = _HOLD + 3
        elif pc == _HOLD + 3:
            RL[i, _RL_T0] = S[_NOW]
            _log(st, K, RL[i, _RL_LOGU], 0, step, layer, head)
            P[p, 1] = _HOLD + 4
            _suspend(st, p, _timeout(st, RL[i, _RL_CYC]))
            return
        elif pc == _HOLD + 4:
            _log(st, K, RL[i, _RL_LOGU], 1, step, layer, head)
            _use(st, RL[i, _RL_USEU], job, RL[i, _RL_T0])
            _release(st, RL[i, _RL_RES])
            P[p, 1] = RL[i, _RL_RET]
        elif pc == _STREAMED:  # a streaming transfer granted: its last line lands later, the first line first
            at = S[_NOW] + RL[i, _RL_CYC] + K[5]
            if RL[i, _RL_INTO] == 0:
                Gs[g, 2] = at
            else:
                Ls[slot, 2] = at
            P[p, 1] = RL[i, _RL_RET]
            _suspend(st, p, _timeout(st, first_line_cycles(RL[i, _RL_CYC], RL[i, _RL_LINES]) + K[5]))
            return
        elif pc == _AWAITED:
            _wait(st, job, _PIPE_C, -1)
            P[p, 1] = RL[i, _RL_RET]
        elif pc == _STORED:  # store and forward: the read latency after the hold
            P[p, 1] = RL[i, _RL_RET2]
            _suspend(st, p, _timeout(st, K[5]))
            return
        else:
            _finish(st, p)
            return


@njit(cache=True)
def _run(st, K, R, RL, MINE, PREV, Gs, Ls, Cd, Mk):
    """Process events until a stop callback fires (``env.run(until)``); 0, or an error code."""
    S, E, C, P = st[0], st[2], st[3], st[8]
    S[_STOPPED] = 0
    while S[_STOPPED] == 0:
        if S[_ERR]:
            return S[_ERR]
        if S[_NHEAP] == 0:
            return ERR_DEADLOCK
        t, ev = _pop(st)
        S[_NOW] = t
        E[ev, 0] = 2
        cb = E[ev, 1]
        E[ev, 1] = -1
        while cb != -1:
            kind, arg = C[cb, 0], C[cb, 1]
            if kind == _CB_RESUME:
                k = P[arg, 0]
                if k == _P_ROW:
                    _row_step(st, K, R, RL, MINE, PREV, Gs, Ls, Cd, arg)
                elif k == _P_HOLD:
                    _hold_step(st, K, arg)
                elif k == _P_VFETCH:
                    _vfetch_step(st, K, R, RL, arg)
                else:
                    _release_step(st, arg)
            elif kind == _CB_TRIG_RES:
                _trig_res(st, arg)
            elif kind == _CB_TRIG_SRAM:
                _trig_sram(st)
            elif kind == _CB_CHECK:
                Cd[arg, 1] += 1
                if Cd[arg, 1] == Cd[arg, 2]:
                    _schedule(st, Cd[arg, 0], _NORMAL, 0)
            elif kind == _CB_MARK:
                n = S[_NMK]
                Mk[n, 0] = arg
                Mk[n, 1] = t
                S[_NMK] = n + 1
            else:  # _CB_STOP
                S[_STOPPED] = 1
                break
            cb = C[cb, 2]
    return S[_ERR]


@njit(cache=True)
def _segment(st, K, R, RL, MINE, PREV, Gs, Ls, Cd, Mk, gens, sel):
    S, P = st[0], st[8]
    n_rows = R.shape[0]
    n_gens = gens.shape[0]
    # Timeline.generate, layer by layer: each row's turn events, its process, then the layer's all_of
    for gi in range(n_gens):
        a, b = gens[gi, 0], gens[gi, 1]
        for i in range(a, b):
            for u in range(4):
                used = R[i, _PV] >= 0 if u == 3 else R[i, _TF0 + u] != 0
                MINE[i, u] = _event(st) if used else -1
            p = _process(st, _P_ROW, i)
            RL[i, _RL_PROC] = p
        cev = _event(st)
        Cd[gi, 0] = cev
        Cd[gi, 1] = 0
        Cd[gi, 2] = b - a
        if b == a:
            _schedule(st, cev, _NORMAL, 0)
        for i in range(a, b):
            _callback(st, P[RL[i, _RL_PROC], 2], _CB_CHECK, gi)
        _callback(st, cev, _CB_MARK, gi)
    # Timeline.drain: all_of(every row), run until it is processed
    if n_rows:
        dev = _event(st)
        Cd[n_gens, 0] = dev
        Cd[n_gens, 1] = 0
        Cd[n_gens, 2] = n_rows
        for i in range(n_rows):
            _callback(st, P[RL[i, _RL_PROC], 2], _CB_CHECK, n_gens)
        _callback(st, dev, _CB_STOP, 0)
        err = _run(st, K, R, RL, MINE, PREV, Gs, Ls, Cd, Mk)
        if err:
            return err
    # Timeline.select: the token/head selection on its engine, run until it is done
    S[_SELQ] = S[_NOW]
    if sel[0] > 0:
        hp = _hold_process(st, K[8], sel[0], 4, 6, sel[1], sel[2], -1, sel[3], -1)
        _callback(st, P[hp, 2], _CB_STOP, 0)
        err = _run(st, K, R, RL, MINE, PREV, Gs, Ls, Cd, Mk)
        if err:
            return err
    # nothing may be left in flight: the next segment starts from idle units and a full key SRAM
    E, C, H, Res = st[2], st[3], st[1], st[4]
    for k in range(S[_NHEAP]):
        cb = E[H[k, 3], 1]
        while cb != -1:
            if C[cb, 0] != _CB_TRIG_RES and C[cb, 0] != _CB_TRIG_SRAM:
                return ERR_IN_FLIGHT
            cb = C[cb, 2]
    for r in range(_R_SRAM + 1):
        if Res[r, 1] != -1 or (r < _R_SRAM and Res[r, 0] != -1):
            return ERR_IN_FLIGHT
    if S[_LEVEL] != K[6]:
        return ERR_IN_FLIGHT
    return 0


def run_segment(rows: np.ndarray, gens: np.ndarray, *, select: tuple[int, int, int, int] | None, now: int,
                config: np.ndarray, n_groups: int, n_slots: int, group_rows: np.ndarray, log: bool) -> dict | None:
    """Run one segment; return its records, or None when it cannot be replayed here (use simpy).

    ``rows`` [n, len(ROW_COLUMNS)] int64 in queueing order (``group`` and ``lsb_slot``: dense ids of the
    rows' K fetch groups and LSB planes in this segment; ``gen``: the layer, ``after``: the layer whose
    completion the row waits for, -1 none, -2 one of an earlier segment). ``gens`` [layers, 2]: each layer's row range. ``select``:
    (cycles, step, layer, job) of a selection after the drain, or None. ``config``: stream, decision
    release, Q x K / softmax / prob x V / HBM latencies, key SRAM bytes, log, the selection engine's
    resource. ``group_rows`` [n_groups]: rows per group (``_last_of_group``'s counters).

    Returns ``now`` (after the segment), ``select_queued`` (the cycle the selection was queued), ``waits`` [k, 4] (job, cycle, cause code, followed job),
    ``uses`` [k, 4] (unit code, job, start, end), ``log`` [k, 6], ``marks`` [k, 2] (layer, cycle) in the
    order simpy fires them.
    """
    n = rows.shape[0]
    n_gens = gens.shape[0]
    if n > MAX_ROWS:
        return None
    # table sizes per row: at most 52 events, 47 callbacks, 9 waits, 10 uses, 19 log lines and 5 processes
    # were seen (every design variant, the CSV replays, 200 random timelines); overflow hands back to simpy
    cap_e = 96 * n + 16 * n_gens + 64
    S = np.zeros(15, np.int64)
    S[_NOW] = now
    S[_LEVEL] = S[_CAP] = config[6]
    H = np.empty((cap_e, 4), np.int64)
    E = np.empty((cap_e, 5), np.int64)
    C = np.empty((2 * cap_e, 3), np.int64)
    Res = np.full((_R_SRAM + 1, 3), -1, np.int64)
    W = np.empty((24 * n + 16, 4), np.int64)
    U = np.empty((20 * n + 16, 4), np.int64)
    L = np.empty((40 * n + 16 if log else 1, 6), np.int64)
    P = np.empty((8 * n + 8, 15), np.int64)
    st = (S, H, E, C, Res, W, U, L, P)
    RL = np.full((n, 20), -1, np.int64)
    RL[:, _RL_VIN] = _NONE
    MINE = np.full((n, 4), -1, np.int64)
    PREV = _previous_turns(rows)
    Gs = np.full((n_groups, 5), -1, np.int64)
    Gs[:, 2] = _NONE
    Gs[:, 3] = group_rows
    Ls = np.full((max(1, n_slots), 3), -1, np.int64)
    Ls[:, 2] = _NONE
    Cd = np.zeros((n_gens + 1, 3), np.int64)
    Mk = np.empty((n_gens + 1, 2), np.int64)
    sel = np.array(select if select is not None else (0, 0, 0, 0), np.int64)
    err = _segment(st, config, rows, RL, MINE, PREV, Gs, Ls, Cd, Mk, gens, sel)
    if err:
        return None
    return {"now": int(S[_NOW]), "waits": W[:S[_NW]], "uses": U[:S[_NU]], "log": L[:S[_NL]] if log else L[:0],
            "marks": Mk[:S[_NMK]], "select_queued": int(S[_SELQ])}


def _previous_turns(rows: np.ndarray) -> np.ndarray:
    """[n, 4]: per row and in-order unit (the engine's three stages, prob x V), the previous row of the segment
    that uses the unit (``Timeline._turns``), -1 for none (or one before this segment: already started)."""
    n = rows.shape[0]
    used = np.empty((n, 4), bool)
    used[:, :3] = rows[:, _TF0:_TF2 + 1] != 0
    used[:, 3] = True
    prev = np.full((n, 4), -1, np.int64)
    for u in range(4):
        idx = np.flatnonzero(used[:, u])
        prev[idx[1:], u] = idx[:-1]
    return prev
