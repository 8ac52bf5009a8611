"""The server-rendered SVG chart: well-formed, escaped, and scaled to the p99s."""

from xml.etree import ElementTree

from twinadmin.search.svg import Bar, ChartRow, latency_chart, nice_step


def test_the_chart_is_well_formed_svg_with_one_group_per_bar():
    rows = [
        ChartRow("overall", [Bar("", 1.0, 2.0, 3.0, 4.0)]),
        ChartRow("creator_a_twin_<b>&", [Bar("", 0.5, 1.0, 1.5, 90.0)]),
        ChartRow("empty", [Bar("", None, None, None, None)]),
    ]
    svg = str(latency_chart(rows))
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    groups = root.findall("{http://www.w3.org/2000/svg}g")
    assert len(groups) == 3
    assert "creator_a_twin_&lt;b&gt;&amp;" in svg
    assert "›90.0" in svg  # a max beyond the p99 axis is drawn at the edge with its figure
    assert "no queries" in svg


def test_comparison_chart_has_two_bars_per_row():
    svg = str(
        latency_chart([ChartRow("ns", [Bar("A", 1, 2, 3, 4), Bar("B", 2, 3, 4, 5)])], series_names=("A", "B"))
    )
    root = ElementTree.fromstring(svg)
    assert len(root.findall("{http://www.w3.org/2000/svg}g")) == 2
    assert "A p95" in svg and "B p95" in svg


def test_nice_steps():
    assert nice_step(10) == 2
    assert nice_step(3) == 1
    assert nice_step(0.07) == 0.02
    assert nice_step(700) == 200
