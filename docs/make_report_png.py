"""Re-make docs/report.png (the README's picture): run the demo, put four of its plots on one page.

Run: ``python docs/make_report_png.py`` (about 10 s; no credentials, no network).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib.image as mpimg
from matplotlib.figure import Figure

from targetsms_analytics.demo import run_demo

PLOTS = (
    "sms_states_by_operator.png",
    "delivery_rate_by_operator.png",
    "cost_by_operator.png",
    "delivery_latency_by_operator.png",
)


def main() -> None:
    target = Path(__file__).resolve().parent / "report.png"
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(Path(tmp) / "demo", echo=lambda *_: None, progress=False)
        fig = Figure(figsize=(16, 9.8), dpi=100)
        for i, name in enumerate(PLOTS):
            ax = fig.add_subplot(2, 2, i + 1)
            ax.imshow(mpimg.imread(Path(tmp) / "demo" / "plots" / name))
            ax.set_axis_off()
        fig.subplots_adjust(
            left=0.005, right=0.995, top=0.995, bottom=0.005, wspace=0.01, hspace=0.01
        )
        fig.savefig(target)
    print(target)


if __name__ == "__main__":
    main()
