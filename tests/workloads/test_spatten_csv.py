"""SpAtten authors' workload CSVs: both files load with the figures of docs/sources.md SpAtten §4.3; bad rows fail by line."""

from __future__ import annotations

import numpy as np
import pytest

import workloads
from hwsim.errors import HwsimError
from workloads import spatten_csv

from conftest import SHARED

DATA = SHARED / "data" / "spatten_workloads"
ALL = DATA / "summary-gpt2-small-wikitext2-per8.csv"
DENSE = DATA / "summary-gpt2-small-wikitext2-per8-step1+dedic.csv"


def test_all_features_trace_matches_the_reference_analysis():
    w = spatten_csv.load(ALL)
    assert (w.rows, w.iterations, w.layers, w.heads) == (4608, 32, 12, 12)
    assert w.config.startswith("configs/gpt2/wikitext2/gpt2_pp11+") and w.config.endswith(".yml")
    assert int(w.sentence_length.min()) == 993 and int(w.sentence_length.max()) == 1024
    assert not w.dense and w.pruned
    # docs/sources.md SpAtten §4.3: keys 27.6 %, values 5.5 % of dense, LSB re-fetch in 7.0 % of rows.
    assert w.kept_key_fraction() == pytest.approx(0.276, abs=5e-4)
    assert w.kept_value_fraction() == pytest.approx(0.055, abs=5e-4)
    assert int(w.requant.sum()) == 323 and w.requant_fraction() == pytest.approx(0.070, abs=5e-4)
    # kept-key fraction by layer: [0.92, 0.72, 0.23 x 4, 0.13 x 6]
    by_layer = [round(r["kept_key_fraction"], 2) for r in w.per_layer()]
    assert by_layer == [0.92, 0.72, 0.23, 0.23, 0.23, 0.23, 0.13, 0.13, 0.13, 0.13, 0.13, 0.13]
    events = w.topk_events()
    assert len(events) == 124 and {k for *_, k in events} == {921, 716, 204, 102}
    assert all(head == 11 for _, _, head, _ in events)  # at the last head of a layer
    assert set(w.key_bits.tolist()) == {6} and set(w.value_bits.tolist()) == {6} and set(w.lsb_bits.tolist()) == {4}
    assert set(w.requant_threshold.tolist()) == {0.05}
    assert w.value_fetch_num.dtype == np.int32 and not w.key_fetch_num.flags.writeable


def test_dense_baseline_trace():
    w = spatten_csv.load(DENSE)
    assert w.rows == 4608 and w.dense and not w.pruned
    np.testing.assert_array_equal(w.key_fetch_num, w.sentence_length)
    np.testing.assert_array_equal(w.value_fetch_num, w.sentence_length)
    assert not w.requant.any() and not w.topk.any() and w.topk_events() == []
    first = w.select(w.iteration == 0)
    assert set(first["sentence_length"].tolist()) == {993} and first["layer"].size == 144


def test_resolve_dispatches_on_the_suffix():
    assert isinstance(workloads.resolve(str(DENSE)), workloads.ReplayWorkload)


HEADER = ",".join(spatten_csv.COLUMNS)
GOOD = "0,0,0,64.0,993,993,6,16,0.05,True,4,204,6,True,False,False,-1"


def _row(**changes) -> str:
    fields = dict(zip(spatten_csv.COLUMNS, GOOD.split(",")))
    fields.update({k: str(v) for k, v in changes.items()})
    return ",".join(fields[c] for c in spatten_csv.COLUMNS)


def _write(tmp_path, *rows, header=HEADER):
    p = tmp_path / "w.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    return p


def _fails(tmp_path, *rows, header=HEADER) -> str:
    p = _write(tmp_path, *rows, header=header)
    with pytest.raises(HwsimError) as e:
        spatten_csv.load(p)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(p))
    return str(e.value)


def test_trailing_rows_blank_or_the_authors_config_are_accepted(tmp_path):
    second = _row(head_id=1)
    w = spatten_csv.load(_write(tmp_path, GOOD, second, ",,,,,,,,,,,,,,,,"))
    assert w.rows == 2 and w.config is None
    assert spatten_csv.load(_write(tmp_path, GOOD, second, "configs/x.yml" + "," * 16)).config == "configs/x.yml"
    assert spatten_csv.load(_write(tmp_path, GOOD, second, "")).rows == 2


@pytest.mark.parametrize("rows, expected", [
    ([GOOD, "0,0,1,64.0,993"], "line 3: expected 17 fields, got 5"),
    ([GOOD, _row(head_id=1, key_fetch_num="")], "line 3: column 'key_fetch_num' is empty (1 empty fields)"),
    ([_row(layer_id="", head_id=""), GOOD], "line 2: column 'layer_id' is empty (2 empty fields)"),
    ([GOOD, _row(head_id=1, quant_key_bit="", topk=""), GOOD],
     "line 3: column 'quant_key_bit' is empty (2 empty fields)"),
    ([",,,,,,,,,,,,,,,,", GOOD], "line 2: blank row before the end of the file"),
    ([GOOD, _row(head_id="x")], "line 3: column 'head_id': expected an integer, got 'x'"),
    ([_row(key_fetch_num=994)], "line 2: key_fetch_num 994 must be in 1..sentence_length_L (993)"),
    ([_row(value_fetch_num=994)], "line 2: value_fetch_num 994 must be in 0..key_fetch_num (993)"),
    ([_row(quant_key_bit=7)], "line 2: column 'quant_key_bit': 7 is not a known bit-width"),
    ([_row(quant_value_bit=32)], "line 2: column 'quant_value_bit': 32 is not a known bit-width"),
    ([_row(auto_requant_incre=2)], "line 2: column 'auto_requant_incre': 2 is not a known bit-width"),
    ([_row(auto_requant_thres=1.5)], "line 2: column 'auto_requant_thres': expected -1 (off) or a probability"),
    ([_row(auto_requant_thres=-1)], "line 2: if_requant is True but progressive quantization is off"),
    ([_row(if_requant="maybe")], "line 2: column 'if_requant': expected True or False, got 'maybe'"),
    ([_row(if_topk="True", topk=-1)], "line 2: topk -1 must be in 1..sentence_length_L (993) when if_topk is True"),
    ([_row(topk=5)], "line 2: topk must be -1 when if_topk is False, got 5"),
    ([_row(embedding_length_D=64.5)], "line 2: column 'embedding_length_D': expected a whole number, got '64.5'"),
    ([_row(sentence_length_L=0, key_fetch_num=0)], "line 2: column 'sentence_length_L': expected a positive"),
    ([GOOD, GOOD], "line 3: duplicate row for iteration 0, layer 0, head 0"),
    ([], "no data rows after the header"),
])
def test_malformed_rows_are_rejected_with_their_line(tmp_path, rows, expected):
    assert expected in _fails(tmp_path, *rows)


def test_wrong_header(tmp_path):
    header = HEADER.replace("key_fetch_num", "keys")
    msg = _fails(tmp_path, GOOD, header=header)
    assert "line 1: header is not the SpAtten workload schema (missing key_fetch_num; unexpected keys)" in msg


def test_not_a_csv(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes(b"\x80\x04\x95binary")
    with pytest.raises(HwsimError, match="not a text CSV file"):
        spatten_csv.load(p)
    p.write_text("")
    with pytest.raises(HwsimError, match="empty file"):
        spatten_csv.load(p)
    with pytest.raises(HwsimError, match="no such file"):
        spatten_csv.load(tmp_path / "absent.csv")
