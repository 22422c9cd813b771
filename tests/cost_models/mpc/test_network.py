"""Networks: presets, TOML files checked like every hwsim config, the latency formula."""

from __future__ import annotations

import pytest

from cost_models.mpc import NETWORK_PRESETS, Cost, latency_s, load_network
from hwsim.errors import HwsimError


def test_presets_state_bandwidth_rtt_and_source():
    assert set(NETWORK_PRESETS) == {"lan", "wan", "mpcvit"}
    lan, wan = NETWORK_PRESETS["lan"], NETWORK_PRESETS["wan"]
    assert (lan.bandwidth_gbit_per_s, lan.rtt_ms) == (8.0, 0.5)
    assert (wan.bandwidth_gbit_per_s, wan.rtt_ms) == (3.2, 4.0)
    for n in NETWORK_PRESETS.values():
        assert "docs/sources.md MPC §" in n.source


def test_latency_is_rounds_times_rtt_plus_bytes_over_bandwidth_plus_compute():
    net = load_network("lan", {"round_overhead_ms": 1.5, "compute_gops_per_s": 2.0})
    c = Cost(rounds=10, sent_bits=8 * 10**9, local_ops=4 * 10**9)
    lat = latency_s(c, net)
    assert lat.round_s == pytest.approx(10 * 2.0e-3)
    assert lat.transfer_s == pytest.approx(1.0)  # 1 GB sent at 8 Gbit/s
    assert lat.compute_s == pytest.approx(2.0)
    assert lat.total_s == pytest.approx(3.02)


def test_toml_file_with_base(tmp_path):
    f = tmp_path / "campus.toml"
    f.write_text('base = "wan"\nrtt_ms = 30\n')
    net = load_network(f)
    assert (net.name, net.rtt_ms, net.bandwidth_gbit_per_s) == ("campus", 30.0, 3.2)
    assert load_network(net) is net


@pytest.mark.parametrize("body,message", [
    ("bandwidth_gbit_per_s = 0\nrtt_ms = 1\n", "bandwidth_gbit_per_s: expected a positive number, got 0.0"),
    ("bandwidth_gbit_per_s = -5.0\nrtt_ms = 1\n", "bandwidth_gbit_per_s: expected a positive number, got -5.0"),
    ("bandwidth_gbit_per_s = 1\n", "rtt_ms: missing required key"),
    ("bandwidth_gbit_per_s = 1\nrtt_ms = -2\n", "rtt_ms: expected a number >= 0, got -2.0"),
    ("bandwidth_gbit_per_s = inf\nrtt_ms = 1\n", "bandwidth_gbit_per_s: expected a positive number, got inf"),
    ("bandwidth_gbit_per_s = 1\nrtt_ms = 1\nrtt = 3\n", "rtt: unknown key; expected one of: name, description, "
     "bandwidth_gbit_per_s, rtt_ms, round_overhead_ms, compute_gops_per_s, source"),
    ('base = "moon"\n', "base: expected a network preset (lan, wan, mpcvit), got 'moon'"),
    ('bandwidth_gbit_per_s = "fast"\nrtt_ms = 1\n', "bandwidth_gbit_per_s: expected a number, got 'fast'"),
])
def test_bad_network_file_is_one_line_naming_file_and_key(tmp_path, body, message):
    f = tmp_path / "net.toml"
    f.write_text(body)
    with pytest.raises(HwsimError) as e:
        load_network(f)
    assert str(e.value) == f"{f}: {message}"


def test_unknown_network_name():
    with pytest.raises(HwsimError, match=r"^unknown network 'lna'; expected a preset \(lan, wan, mpcvit\) or a "
                                         r"\.toml file$"):
        load_network("lna")
