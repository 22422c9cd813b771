"""``hwsim mpc``: MPC latency of a whole model; ``hwsim mpc op``: of one operation; ``hwsim mpc list``.

``hwsim mpc`` is a command group that also runs on its own: with ``--workload`` it costs a model
(the group callback does the work when no subcommand is given); ``hwsim mpc op OP`` and
``hwsim mpc list`` are its subcommands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import HwsimError
from .app import JsonOption, PlotFormatOption, check_plot_format, console, emit_json, hidden, json_to_stdout, \
    rich_table, use_alias
from .app import app as root_app

mpc_app = typer.Typer(
    help="Secure-inference (MPC) latency: rounds, bytes and time under a protocol (crypten-2pc, aby3-3pc, semi2k-2pc, cheetah-2pc) and "
    "a network (lan, wan, mpcvit or a TOML file). 'hwsim mpc --workload W' costs a whole model (totals, a "
    "per-operation table, --json/--csv/--plot); 'hwsim mpc op OP --shape S' one operation. See docs/mpc.md.",
    no_args_is_help=False,
)
root_app.add_typer(mpc_app, name="mpc")

ProtocolOption = Annotated[
    Optional[str], typer.Option("--protocol", help="MPC protocol: crypten-2pc, aby3-3pc, semi2k-2pc, cheetah-2pc (see hwsim mpc list) "
                                                   "\\[default: crypten-2pc].")
]
# -p is the policy everywhere else; the old -p of the protocol stays accepted, hidden
ProtocolShort = Annotated[Optional[str], hidden("-p", metavar="PROTOCOL")]
NetworkOption = Annotated[
    str, typer.Option("--network", "-n", metavar="NAME|FILE", help="Network preset (lan, wan, mpcvit) or a TOML file.")
]


def _mb(b: float) -> str:
    return f"{b / 1e6:,.2f}"


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.2f}"


def _plot(result, path: Path, fmt: str = "png") -> Path:
    """Draw where the time goes: one horizontal stacked bar per step (summed over layers), to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..outputs import write_figure

    names = ("rounds (RTT + overhead)", "transfer (bytes / bandwidth)", "local compute")
    labels, parts, notes, zero = [], {n: [] for n in names}, [], []
    for s in result.steps:
        lat = s.latency
        frac = f" x{s.step.volume_fraction:g}" if s.step.volume_fraction != 1 else ""
        label = f"{s.step.name} ({s.step.op}{frac})"
        if lat.total_s <= 0:
            zero.append(label)
            continue
        labels.append(label)
        notes.append(f"{s.latency.total_s:.3g} s: {s.cost.rounds:,.0f} rounds, {s.cost.bytes / 1e6:,.1f} MB")
        for n, v in zip(names, (lat.round_s, lat.transfer_s, lat.compute_s)):
            parts[n].append(v)
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(labels) + 2.0))
    left = [0.0] * len(labels)
    for name, values in parts.items():
        ax.barh(labels, values, left=left, label=name)
        left = [a + b for a, b in zip(left, values)]
    longest = max(left, default=1.0) or 1.0
    for y, (x, text) in enumerate(zip(left, notes)):
        ax.text(x + 0.01 * longest, y, text, va="center", fontsize=7)
    ax.set_xlim(0, longest * 1.45)  # room for the longest bar's note
    ax.invert_yaxis()
    ax.set_xlabel(f"latency (s), each bar summed over the {result.spec.layers} layers")
    skipped = f"; zero-cost steps not drawn: {', '.join(zero)}" if zero else ""
    ax.set_title(f"{result.model}, {result.protocol}, network {result.network.name}, attention {result.attention}: "
                 f"{result.latency_s:.3g} s, {result.rounds:,.0f} rounds, {result.bytes / 1e9:.3g} GB (one party)"
                 f"{skipped}", fontsize=9, wrap=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / (len(labels) ** 0.5 if labels else 1)), ncol=3,
              fontsize="small")
    fig.tight_layout()
    return write_figure(fig, path, fmt=fmt)


@mpc_app.callback(invoke_without_command=True)
def mpc_main(
    ctx: typer.Context,
    workload: Annotated[
        Optional[str],
        typer.Option("--workload", "-w", metavar="NAME|FILE",
                     help="Model to cost: vit-cifar, vit-tiny, bert-base, minilm, ... or a trace file."),
    ] = None,
    protocol: ProtocolOption = None,
    protocol_p: ProtocolShort = None,
    network: NetworkOption = "lan",
    attention: Annotated[
        str, typer.Option(help="Attention per head: softmax, relu_softmax, scaling, quad2, linear or mixed:MU "
                               "(a fraction MU of heads on relu_softmax, the rest scaling).")
    ] = "softmax",
    activation: Annotated[
        Optional[str], typer.Option(help="MLP activation: gelu_erf, gelu_tanh, gelu_quad, relu, silu "
                                         "(default: the model's own).")
    ] = None,
    tokens: Annotated[Optional[int], typer.Option(help="Tokens per inference (default: the model's).")] = None,
    mix: Annotated[
        str, typer.Option(help="How a mixed attention is counted: per_head (MPCViT's model) or batched "
                               "(one CrypTen batch per layer).")
    ] = "per_head",
    json_path: JsonOption = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="Write the per-op rows as CSV.")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Draw where the time goes (PNG at 200 dpi).")] = False,
    plot_file: Annotated[
        Optional[Path], typer.Option(metavar="FILE", help="Where --plot writes (default: the --json path with "
                                                           "the plot format's suffix, else mpc-<workload>.png).")
    ] = None,
    plot_format: PlotFormatOption = "png",
) -> None:
    """Cost one secure inference of a model: totals, a per-operation table, optional JSON/CSV/plot.

    Every weight is secret-shared, batch 1 (MPCViT's convention); see docs/mpc.md.
    """
    if ctx.invoked_subcommand is not None:
        if workload is not None:
            raise HwsimError(f"--workload goes with 'hwsim mpc', not with 'hwsim mpc {ctx.invoked_subcommand}'")
        return
    if workload is None:
        console.print(ctx.get_help())
        raise typer.Exit(0)
    protocol = use_alias(protocol_p, "-p", "--protocol", protocol) or "crypten-2pc"
    check_plot_format(plot_format)

    from cost_models.mpc import estimate

    from ..limits import MAX_MPC_TOKENS, check_count
    from ..outputs import check_destination, is_stdout, provenance, write_csv

    if tokens is not None:
        check_count("--tokens", tokens, 1, MAX_MPC_TOKENS, why="hwsim.limits.MAX_MPC_TOKENS")
    for option, dest in (("--json", json_path), ("--csv", csv_path), ("--plot-file", plot_file)):
        check_destination(dest, option=option)
    result = estimate(workload, protocol=protocol, network=network, attention=attention, activation=activation,
                      tokens=tokens, mix=mix)
    net = result.network
    lat = result.latency
    total_s = result.latency_s or 1.0
    rows = []
    for s in result.steps:
        st = s.step
        rows.append([st.name, st.op + (f" x{st.volume_fraction:g}" if st.volume_fraction != 1 else ""),
                     "x".join(map(str, st.shape)), st.count, _num(s.cost.rounds), _mb(s.cost.bytes),
                     f"{s.latency.total_s:.4g}", f"{100 * s.latency.total_s / total_s:.1f}"])
    title = (f"{result.model}: {result.spec.layers} layers, {result.tokens} tokens, {result.protocol}, network "
             f"{net.name} ({net.bandwidth_gbit_per_s:g} Gbit/s, {net.rtt_ms + net.round_overhead_ms:g} ms/round), "
             f"attention {result.attention}, activation {result.activation}")
    show = not json_to_stdout(json_path)
    if show:
        console.print(rich_table(title, ["step", "op", "shape", "layers", "rounds (sum)", "MB (10^6 bytes)",
                                         "latency (s)", "time (%)"], rows))
        groups = [[g, _num(v["rounds"]), _mb(v["bytes"]), f"{v['latency_s']:.4g}",
                   f"{100 * v['latency_s'] / total_s:.1f}"] for g, v in result.groups().items()]
        console.print(rich_table("By part", ["part", "rounds (sum)", "MB (10^6 bytes)", "latency (s)", "time (%)"],
                                 groups))
        console.print(f"total: {_num(result.rounds)} rounds, {result.bytes / 1e9:.4g} GB (one party, sent + "
                      f"received), latency {result.latency_s:.4g} s = rounds {lat.round_s:.4g} s + transfer "
                      f"{lat.transfer_s:.4g} s + compute {lat.compute_s:.4g} s")
    if json_path is not None:
        doc = result.to_dict()
        doc["provenance"] = provenance(configs={"network": net}, inputs=_workload_inputs(workload))
        if emit_json(json_path, doc) is not None:
            console.print(f"wrote {json_path}")
    if csv_path is not None:
        write_csv(csv_path, [s.row() for s in result.steps])
        console.print(f"wrote {csv_path}")
    if plot:
        suffix = f".{plot_format}"
        path = plot_file or (json_path.with_suffix(suffix) if json_path and show
                             else Path(f"mpc-{Path(workload).stem}{suffix}"))
        written = _plot(result, path, plot_format)
        if show:
            console.print(f"wrote {written}")


def _workload_inputs(workload: str) -> dict:
    """Provenance of the costed workload: its name, and the SHA-256 of its bytes when it is a file."""
    import hashlib

    path = Path(workload)
    if not path.is_file():
        return {"workload": workload}
    with open(path, "rb") as f:
        return {"workload": path.name, "workload_sha256": hashlib.file_digest(f, "sha256").hexdigest()}


@mpc_app.command("op")
def op_cmd(
    op: Annotated[str, typer.Argument(metavar="OP", help="Operation, e.g. softmax, matmul, gelu_erf (see hwsim mpc list).")],
    shape: Annotated[
        str, typer.Option("--shape", "-s", help="Shape, comma-separated: element-wise ops any shape; row ops "
                                               "(softmax, max, layernorm, ...) reduce the last dim; matmul m,k,n or "
                                               "b,m,k,n; linear_attention tokens,head_dim or heads,tokens,head_dim.")
    ],
    protocol: ProtocolOption = None,
    protocol_p: ProtocolShort = None,
    network: NetworkOption = "lan",
    json_out: JsonOption = None,
) -> None:
    """Cost one operation: rounds, bytes (one party, sent + received, as CrypTen logs them), latency."""
    from cost_models.mpc import get_protocol, latency_s, load_network, parse_shape

    protocol = use_alias(protocol_p, "-p", "--protocol", protocol) or "crypten-2pc"
    dims = parse_shape(shape)
    proto = get_protocol(protocol)
    net = load_network(network)
    cost = proto.cost(op, dims)
    lat = latency_s(cost, net)
    out = {"op": op, "shape": list(dims), "protocol": proto.name, "network": net.name, **cost.as_dict(),
           "latency_s": lat.total_s, "round_s": lat.round_s, "transfer_s": lat.transfer_s, "compute_s": lat.compute_s}
    if emit_json(json_out, out) is not None:
        console.print(f"wrote {json_out}")
    if json_to_stdout(json_out):
        return
    console.print(rich_table(f"{op} {','.join(map(str, dims))} under {proto.name} on {net.name}",
                             ["rounds", "bytes (sent + received)", "sent bytes", "local ops", "latency (s)"],
                             [[_num(cost.rounds), _num(cost.bytes), _num(cost.sent_bytes), _num(cost.local_ops),
                               f"{lat.total_s:.4g}"]]))


@mpc_app.command("list")
def list_cmd(json_out: JsonOption = None) -> None:
    """List the protocols, network presets and operations."""
    from cost_models.mpc import NETWORK_PRESETS, OPS, PROTOCOLS

    emit_json(json_out, {
        "protocols": [{"name": p.name, "parties": p.parties, "ring_bits": p.ring_bits, "description": p.description}
                      for p in PROTOCOLS.values()],
        "networks": [{"name": n.name, "bandwidth_gbit_per_s": n.bandwidth_gbit_per_s,
                      "round_ms": n.rtt_ms + n.round_overhead_ms, "description": n.description}
                     for n in NETWORK_PRESETS.values()],
        "operations": [{"name": o.name, "shape": o.kind, "description": o.description} for o in OPS.values()]})
    if json_to_stdout(json_out):
        return
    console.print(rich_table("Protocols (--protocol)", ["name", "parties", "ring bits", "description"],
                             [[p.name, p.parties, p.ring_bits, p.description] for p in PROTOCOLS.values()]))
    console.print(rich_table("Networks (--network, or a TOML file)", ["name", "bandwidth (Gbit/s)",
                                                                      "round time (ms)", "description"],
                             [[n.name, f"{n.bandwidth_gbit_per_s:g}", f"{n.rtt_ms + n.round_overhead_ms:g}",
                               n.description] for n in NETWORK_PRESETS.values()]))
    console.print(rich_table("Operations (hwsim mpc op OP --shape ...)", ["op", "shape", "meaning"],
                             [[o.name, o.kind, o.description] for o in OPS.values()]))
