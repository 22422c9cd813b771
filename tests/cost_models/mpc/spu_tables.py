"""Print docs/mpc.md's SPU validation tables: ours against SPU 0.9.5's measured counters.

    .venv/bin/python tests/cost_models/mpc/spu_tables.py      # markdown, one table per protocol

Rows: every measured op and shape of ``spu_fixture.json`` (bytes are totals over the parties),
then the whole-layer runs. ``test_spu.py`` checks that docs/mpc.md holds exactly this output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from cost_models.mpc import OPS, CheetahSession, estimate, get_protocol, model_steps, parse_attention  # noqa: E402
from workloads.models import ModelSpec  # noqa: E402

FIXTURE = json.loads((HERE / "spu_fixture.json").read_text())
NAMES = {"aby3": "aby3-3pc", "semi2k": "semi2k-2pc", "cheetah": "cheetah-2pc"}
#: What spu_fixture.py's ``measure`` runs in each SPU session before the recorded cases.
WARMUP = (("mul", (64,)), ("matmul", (8, 8, 8)))


def layer_spec(rec: dict) -> ModelSpec:
    """The one-layer ``ModelSpec`` of a whole-layer record."""
    s = rec["spec"]
    return ModelSpec(name=rec["model"], family=s["family"], mode="encoder", layers=1, hidden=s["hidden"],
                     heads=s["heads"], kv_heads=s["heads"], ffn=s["ffn"], tokens=s["tokens"], block=s["block"],
                     norm="layernorm")


def model_total_bytes(rec: dict, protocol: str) -> tuple[float, float]:
    """(rounds, total bytes over the parties) of a whole-layer record under ``protocol``."""
    p = get_protocol(protocol)
    r = estimate(layer_spec(rec), protocol=p, attention=rec["spec"]["attention"], activation=rec["spec"]["activation"])
    return r.rounds, r.bytes / 2 * p.parties


def cheetah_cases() -> list[dict]:
    """The fixture's Cheetah cases the models price, in SPU's order."""
    return [c for c in FIXTURE["protocols"]["cheetah"]["cases"] if c["op"] in OPS]


def cheetah_replay(items) -> list:
    """``(cost, tally)`` of each ``(op, shape)`` of ``items`` replayed as SPU ran them: one Cheetah
    session, after the fixture's warm-up."""
    session = CheetahSession()
    session.replay(WARMUP)
    return session.replay(items)


def layer_items(rec: dict) -> list[tuple[str, tuple[int, ...]]]:
    """The ``(op, shape)`` steps of a whole-layer record, in order."""
    steps = model_steps(layer_spec(rec), attention=parse_attention(rec["spec"]["attention"]),
                        activation=rec["spec"]["activation"])
    return [(s.op, s.shape) for s in steps]


def cheetah_layer(rec: dict) -> tuple[float, float]:
    """(rounds, total bytes over both parties) of a whole-layer record replayed as one Cheetah session."""
    res = cheetah_replay(layer_items(rec))
    return sum(c.rounds for c, _ in res), sum(c.sent_bytes * 2 for c, _ in res)


def table(proto: str) -> str:
    """The markdown validation table of one SPU protocol."""
    if proto == "cheetah":
        return cheetah_table()
    p = get_protocol(NAMES[proto])
    data = FIXTURE["protocols"][proto]
    lines = [f"| op | shape | SPU send actions per party | ours rounds | SPU bytes (all parties) | ours bytes | "
             "ours / SPU |", "|---|---|---|---|---|---|---|"]
    for c in data["cases"]:
        if c["op"] not in OPS:
            continue
        cost = p.cost(c["op"], tuple(c["shape"]))
        ours = round(cost.sent_bytes * p.parties)
        ratio = ours / c["send_bytes"] if c["send_bytes"] else 1.0
        acts = "/".join(str(a) for a in c["send_actions_per_party"])
        lines.append(f"| {c['op']} | {'x'.join(map(str, c['shape']))} | {acts} | {cost.rounds} | "
                     f"{c['send_bytes']:,} | {ours:,} | {ratio:.4f} |")
    for m in data.get("models", []):
        rounds, ours = model_total_bytes(m, NAMES[proto])
        acts = "/".join(str(a) for a in m["send_actions_per_party"])
        lines.append(f"| **{m['model']}** | {m['spec']['attention']}, {m['spec']['activation']} | {acts} | "
                     f"{rounds} | {m['send_bytes']:,} | {round(ours):,} | {ours / m['send_bytes']:.4f} |")
    return "\n".join(lines)


def cheetah_table() -> str:
    """Cheetah's validation table: each case replayed in SPU's order (one session), beside the steady state."""
    p = get_protocol("cheetah-2pc")
    data = FIXTURE["protocols"]["cheetah"]
    cases = cheetah_cases()
    lines = ["| op | shape | SPU send actions per party | ours rounds | SPU bytes (both parties) | ours, session "
             "replay | ours / SPU | ours, steady state |", "|---|---|---|---|---|---|---|---|"]
    for c, (cost, _) in zip(cases, cheetah_replay([(c["op"], c["shape"]) for c in cases])):
        ours = round(cost.sent_bytes * 2)
        steady = round(p.cost(c["op"], tuple(c["shape"])).sent_bytes * 2)
        acts = "/".join(str(a) for a in c["send_actions_per_party"])
        lines.append(f"| {c['op']} | {'x'.join(map(str, c['shape']))} | {acts} | {cost.rounds:g} | "
                     f"{c['send_bytes']:,} | {ours:,} | {ours / c['send_bytes']:.4f} | {steady:,} |")
    for m in data.get("models", []):
        rounds, ours = cheetah_layer(m)
        steady = model_total_bytes(m, "cheetah-2pc")[1]
        acts = "/".join(str(a) for a in m["send_actions_per_party"])
        lines.append(f"| **{m['model']}** | {m['spec']['attention']}, {m['spec']['activation']} | {acts} | "
                     f"{rounds:g} | {m['send_bytes']:,} | {round(ours):,} | {ours / m['send_bytes']:.4f} | "
                     f"{round(steady):,} |")
    return "\n".join(lines)


def main() -> None:
    for proto in NAMES:
        print(f"<!-- spu-table {proto} -->")
        print(table(proto))
        print(f"<!-- /spu-table {proto} -->\n")


if __name__ == "__main__":
    main()
