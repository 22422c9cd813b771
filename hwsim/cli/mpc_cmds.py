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
from .app import console, rich_table
from .app import app as root_app

mpc_app = typer.Typer(
    help="Secure-inference (MPC) latency: rounds, bytes and time under a protocol (crypten-2pc, aby3-3pc, semi2k-2pc, ...) and "
    "a network (lan, wan, mpcvit or a TOML file). 'hwsim mpc --workload W' costs a whole model (totals, a "
    "per-operation table, --json/--csv/--plot); 'hwsim mpc op OP --shape S' one operation. See docs/mpc.md.",
    no_args_is_help=False,
)
root_app.add_typer(mpc_app, name="mpc")

ProtocolOption = Annotated[
    str, typer.Option("--protocol", "-p", help="MPC protocol: crypten-2pc, aby3-3pc, semi2k-2pc, ... (see hwsim mpc list).")
]
NetworkOption = Annotated[
    str, typer.Option("--network", "-n", metavar="NAME|FILE", help="Network preset (lan, wan, mpcvit) or a TOML file.")
]


def _mb(b: float) -> str:
    return f"{b / 1e6:,.2f}"


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.2f}"


def _plot(result, path: Path) -> Path:
    """Write a horizontal stacked bar chart of where the time goes (one bar per step) to ``path``."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..outputs import atomic_write

    labels, parts = [], {"rounds (RTT + overhead)": [], "transfer (bytes / bandwidth)": [], "local compute": []}
    for s in result.steps:
        lat = s.latency
        frac = f" x{s.step.volume_fraction:g}" if s.step.volume_fraction != 1 else ""
        labels.append(f"{s.step.name} ({s.step.op}{frac})")
        parts["rounds (RTT + overhead)"].append(lat.round_s)
        parts["transfer (bytes / bandwidth)"].append(lat.transfer_s)
        parts["local compute"].append(lat.compute_s)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(labels) + 1.6))
    left = [0.0] * len(labels)
    for name, values in parts.items():
        ax.barh(labels, values, left=left, label=name)
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("latency (s)")
    ax.set_title(f"{result.model}, {result.protocol}, {result.network.name}, attention {result.attention}: "
                 f"{result.latency_s:.3g} s")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5 / (len(labels) ** 0.5)), ncol=3, fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write(path, buf.getvalue())


@mpc_app.callback(invoke_without_command=True)
def mpc_main(
    ctx: typer.Context,
    workload: Annotated[
        Optional[str],
        typer.Option("--workload", "-w", metavar="NAME|FILE",
                     help="Model to cost: vit-cifar, vit-tiny, bert-base, minilm, ... or a trace file."),
    ] = None,
    protocol: ProtocolOption = "crypten-2pc",
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
    json_path: Annotated[
        Optional[Path], typer.Option("--json", metavar="FILE", help="Write totals and per-op rows as JSON.")
    ] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="Write the per-op rows as CSV.")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Draw where the time goes (PNG).")] = False,
    plot_file: Annotated[
        Optional[Path], typer.Option(metavar="FILE", help="Where --plot writes (default: the --json path with "
                                                           ".png, else mpc-<workload>.png).")
    ] = None,
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

    from cost_models.mpc import estimate

    from ..outputs import provenance, write_csv, write_json

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
    console.print(rich_table(title, ["step", "op", "shape", "layers", "rounds", "MB", "latency s", "% time"], rows))
    groups = [[g, _num(v["rounds"]), _mb(v["bytes"]), f"{v['latency_s']:.4g}", f"{100 * v['latency_s'] / total_s:.1f}"]
              for g, v in result.groups().items()]
    console.print(rich_table("By part", ["part", "rounds", "MB", "latency s", "% time"], groups))
    console.print(f"total: {_num(result.rounds)} rounds, {result.bytes / 1e9:.4g} GB (one party, sent + received), "
                  f"latency {result.latency_s:.4g} s = rounds {lat.round_s:.4g} s + transfer {lat.transfer_s:.4g} s "
                  f"+ compute {lat.compute_s:.4g} s")
    if json_path is not None:
        doc = result.to_dict()
        doc["provenance"] = provenance(configs={"network": net}, inputs={"workload": str(workload)})
        write_json(json_path, doc)
        console.print(f"wrote {json_path}")
    if csv_path is not None:
        write_csv(csv_path, [s.row() for s in result.steps])
        console.print(f"wrote {csv_path}")
    if plot:
        path = plot_file or (json_path.with_suffix(".png") if json_path else Path(f"mpc-{Path(workload).stem}.png"))
        console.print(f"wrote {_plot(result, path)}")


@mpc_app.command("op")
def op_cmd(
    op: Annotated[str, typer.Argument(metavar="OP", help="Operation, e.g. softmax, matmul, gelu_erf (see hwsim mpc list).")],
    shape: Annotated[
        str, typer.Option("--shape", "-s", help="Shape, comma-separated: element-wise ops any shape; row ops "
                                               "(softmax, max, layernorm, ...) reduce the last dim; matmul m,k,n or "
                                               "b,m,k,n; linear_attention tokens,head_dim or heads,tokens,head_dim.")
    ],
    protocol: ProtocolOption = "crypten-2pc",
    network: NetworkOption = "lan",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Cost one operation: rounds, bytes (one party, sent + received, as CrypTen logs them), latency."""
    from cost_models.mpc import get_protocol, latency_s, load_network, parse_shape

    from ..outputs import to_json

    dims = parse_shape(shape)
    proto = get_protocol(protocol)
    net = load_network(network)
    cost = proto.cost(op, dims)
    lat = latency_s(cost, net)
    out = {"op": op, "shape": list(dims), "protocol": proto.name, "network": net.name, **cost.as_dict(),
           "latency_s": lat.total_s, "round_s": lat.round_s, "transfer_s": lat.transfer_s, "compute_s": lat.compute_s}
    if json_out:
        print(to_json(out), end="")
        return
    console.print(rich_table(f"{op} {','.join(map(str, dims))} under {proto.name} on {net.name}",
                             ["rounds", "bytes", "sent bytes", "local ops", "latency s"],
                             [[_num(cost.rounds), _num(cost.bytes), _num(cost.sent_bytes), _num(cost.local_ops),
                               f"{lat.total_s:.4g}"]]))


@mpc_app.command("list")
def list_cmd() -> None:
    """List the protocols, network presets and operations."""
    from cost_models.mpc import NETWORK_PRESETS, OPS, PROTOCOLS

    console.print(rich_table("Protocols (--protocol)", ["name", "parties", "ring bits", "description"],
                             [[p.name, p.parties, p.ring_bits, p.description] for p in PROTOCOLS.values()]))
    console.print(rich_table("Networks (--network, or a TOML file)", ["name", "Gbit/s", "ms per round", "description"],
                             [[n.name, f"{n.bandwidth_gbit_per_s:g}", f"{n.rtt_ms + n.round_overhead_ms:g}",
                               n.description] for n in NETWORK_PRESETS.values()]))
    console.print(rich_table("Operations (hwsim mpc op OP --shape ...)", ["op", "shape", "meaning"],
                             [[o.name, o.kind, o.description] for o in OPS.values()]))
