import re

import pytest
import torch
from click.testing import CliRunner

from xlbackprop.cli import main
from xlbackprop.errors import TrainError
from xlbackprop.train.models import MODELS, build_model, count_params, get_spec
from xlbackprop.train.summary import LayerRow, format_summary, summarize


def shapes(name: str) -> dict[str, list[int]]:
    return {r.layer: r.output_shape for r in summarize(build_model(name)).rows}


def test_s6_19k_has_19698_params_and_the_course_output_shapes():
    assert count_params(build_model("s6-19k")) == 19_698
    conv_shapes = [s for layer, s in shapes("s6-19k").items() if layer.split(":")[0].endswith("Conv2d")]
    sizes = [(c, h) for _, c, h, _ in conv_shapes]
    assert sizes == [(16, 26), (16, 24), (30, 22), (30, 11), (16, 9), (16, 7), (32, 5)]
    assert shapes("s6-19k")["AvgPool2d: 1-22"] == [-1, 32, 1, 1]


def test_s6_22k_has_22504_params_and_the_course_output_shapes():
    assert count_params(build_model("s6-22k")) == 22_504
    pools = [s for layer, s in shapes("s6-22k").items() if layer.startswith("MaxPool2d")]
    assert [s[2] for s in pools] == [14, 7, 3]
    last_conv = [s for layer, s in shapes("s6-22k").items() if layer.split(":")[0].endswith("Conv2d")][-1]
    assert last_conv == [-1, 10, 3, 3]


def test_own_model_is_within_its_8000_parameter_budget():
    params = count_params(build_model("xl-8k"))
    assert params <= get_spec("xl-8k").targets.max_params == 8_000
    assert params > 6_000  # uses its budget rather than starving the net


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_maps_a_batch_to_ten_logits(name):
    model = build_model(name).eval()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_is_under_its_parameter_target(name):
    t = get_spec(name).targets
    n = count_params(build_model(name))
    assert n < t.max_params if t.params_strict else n <= t.max_params


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(TrainError, match="unknown model 'resnet'; expected one of: s6-19k, s6-22k, xl-8k"):
        get_spec("resnet")


@pytest.mark.parametrize("name, params", [("s6-19k", 19_698), ("s6-22k", 22_504), ("xl-8k", 7_544)])
def test_the_torchinfo_table_counts_every_parameter_exactly(name, params):
    s = summarize(build_model(name))
    assert sum(r.params for r in s.rows) == s.total_params == s.trainable_params == params
    text = format_summary(s)
    assert f"Total params: {params:,}" in text and "Non-trainable params: 0" in text
    assert "Units." not in text  # torchinfo 1.8's unit label, repaired


def test_the_table_has_torchinfos_layout_and_each_layers_output_shape():
    s = summarize(build_model("s6-22k"))
    assert s.rows[0] == LayerRow("Conv2d: 1-1", [-1, 16, 28, 28], 160)
    assert s.rows[-1] == LayerRow("Linear: 1-27", [-1, 10], 910)
    text = format_summary(s)
    assert re.search(r"Layer \(type:depth-idx\)\s+Output Shape\s+Param #", text)
    assert re.search(r"├─Conv2d: 1-1\s+\[1, 16, 28, 28\]\s+160", text)
    assert "Params size (MB): 0.09" in text


def test_summarizing_leaves_the_model_in_the_mode_it_was_in():
    model = build_model("s6-19k").train()
    summarize(model)
    assert model.training


def test_summary_command_prints_the_table():
    result = CliRunner().invoke(main, ["summary", "--model", "s6-19k"])
    assert result.exit_code == 0, result.output
    assert "Total params: 19,698" in result.output
    assert "Estimated Total Size (MB)" in result.output
    assert result.output.count("BatchNorm2d: 1-") == 7


def test_summary_of_unknown_model_is_one_line_and_exit_2():
    result = CliRunner().invoke(main, ["summary", "--model", "resnet"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["xlbackprop: error: unknown model 'resnet'; expected one of: s6-19k, s6-22k, xl-8k"]


def test_the_subsampled_pointwise_convolution_computes_what_the_strided_one_does():
    from xlbackprop.train.layers import SubsampledConv2d

    torch.manual_seed(0)
    fast, plain = SubsampledConv2d(30, 30, 2), torch.nn.Conv2d(30, 30, 1, stride=2)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(4, 30, 22, 22, dtype=torch.float64, requires_grad=True)
    fast, plain = fast.double(), plain.double()
    (out_fast,), (out_plain,) = [torch.autograd.grad(m(x).square().sum(), [x]) for m in (fast, plain)]
    assert torch.allclose(fast(x), plain(x), rtol=1e-12, atol=1e-12) and fast(x).shape == (4, 30, 11, 11)
    assert torch.allclose(out_fast, out_plain, rtol=1e-12, atol=1e-12)
    assert fast.weight.shape == plain.weight.shape and fast.bias.shape == plain.bias.shape


def test_s6_19k_uses_the_subsampled_form_for_its_strided_pointwise_layer():
    from xlbackprop.train.layers import SubsampledConv2d

    assert [type(m).__name__ for m in build_model("s6-19k") if isinstance(m, SubsampledConv2d)] == ["SubsampledConv2d"]


def test_a_dropout_rate_replaces_s6_22ks_own_and_keeps_its_parameters():
    rates = lambda model: [m.p for m in model if isinstance(m, torch.nn.Dropout)]  # noqa: E731
    assert rates(build_model("s6-22k")) == [0.05] * 3
    assert rates(build_model("s6-22k", 0.0)) == [0.0] * 3
    assert count_params(build_model("s6-22k", 0.15)) == 22_504


def test_a_dropout_rate_out_of_range_is_refused_with_its_value():
    from xlbackprop.train.config import config_for

    with pytest.raises(TrainError, match="dropout is 1.0, expected a rate from 0 up to"):
        config_for("s6-22k", dropout=1.0)
