import re
from decimal import Decimal as D

from publish.charts import PillarBar, distribution_chart, pillar_chart
from publish.marts import Level

LEVELS = (
    Level("khoi_dong", "Khởi động", 1, D(0), D(60), "#b45309", "#fef3c7"),
    Level("hinh_thanh", "Hình thành", 2, D(60), D(80), "#1d4ed8", "#dbeafe"),
    Level("nang_cao", "Nâng cao", 3, D(80), None, "#15803d", "#dcfce7"),
)


def test_distribution_chart_counts_units_per_bin_and_marks_thresholds():
    svg = distribution_chart(
        [D("59.99"), D("60"), D("79.99"), D("80"), D("100")],
        LEVELS,
        chart_id="c",
        title="Phân bố <khối>",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">Phân bố &lt;khối&gt;</title>' in svg
    bars = re.findall(r"<title>(\d+–\d+ %: \d+ đơn vị)</title>", svg)
    assert bars == [
        "50–60 %: 1 đơn vị",
        "60–70 %: 1 đơn vị",
        "70–80 %: 1 đơn vị",
        "80–90 %: 1 đơn vị",
        "90–100 %: 1 đơn vị",
    ]
    # Bars take the colour of their level: khởi động, hình thành, hình thành, nâng cao, nâng cao.
    fills = re.findall(r'<rect [^>]*fill="(#[0-9a-f]+)"><title>', svg)
    assert fills == ["#b45309", "#1d4ed8", "#1d4ed8", "#15803d", "#15803d"]
    assert svg.count('stroke-dasharray="5 4"') == 2  # the two thresholds
    assert ">60 %</text>" in svg and ">80 %</text>" in svg


def test_pillar_chart_bar_lengths_follow_percent_and_median_ticks():
    svg = pillar_chart(
        [PillarBar("Nhận thức số", D("50"), D("75")), PillarBar("<b>Hạ tầng</b>", D("100"), None)],
        chart_id="p",
        title="Chỉ số chính",
        level=LEVELS[2],
    )
    widths = re.findall(r'<rect x="230" y="\d+" width="([\d.]+)" height="18" fill="#15803d">', svg)
    assert widths == ["180", "360"]  # 50 % and 100 % of 360 px
    assert '<line x1="500" ' in svg  # the median tick at 75 %: 230 + 270
    assert "&lt;b&gt;Hạ tầng&lt;/b&gt;" in svg and "<b>" not in svg
    assert (
        "Nhận thức số: 50 % (trung vị khối 75 %); &lt;b&gt;Hạ tầng&lt;/b&gt;: 100 %</desc>" in svg
    )
