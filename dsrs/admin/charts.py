"""Where charts are drawn for people: inline SVG made on the server, with nothing to fetch and no
script, so they show wherever the admin does."""

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from dsrs.admin.concentration import RevenueConcentration

# The plot area, in pixels; the margins around it hold the axes' labels.
WIDTH, HEIGHT = 360, 180
LEFT, TOP, RIGHT, BOTTOM = 58, 8, 20, 40


def revenue_concentration_chart(concentration: RevenueConcentration) -> SafeString:
    """The curve of revenue share by share of resources, top earners first, over the diagonal
    that an even spread would draw, with the figures a reader looks for first."""
    curve = [(0.0, 0.0), *concentration.points]
    return render_to_string(
        "dsrs/revenue_concentration.html",
        {
            "svg_width": LEFT + WIDTH + RIGHT,
            "svg_height": TOP + HEIGHT + BOTTOM,
            "left": LEFT,
            "top": TOP,
            "width": WIDTH,
            "height": HEIGHT,
            "curve": " ".join(f"{x * WIDTH:.1f},{(1 - y) * HEIGHT:.1f}" for x, y in curve),
            "x_ticks": [(f"{share * WIDTH:.0f}", f"{share:.0%}") for share in (0, 0.25, 0.5, 0.75, 1)],
            "y_ticks": [(f"{(1 - share) * HEIGHT:.0f}", f"{share:.0%}") for share in (0, 0.5, 1)],
            "summary": concentration_summary(concentration),
        },
    )


def concentration_summary(concentration: RevenueConcentration) -> str:
    """E.g. "86,470 resources: the top 1% earn 43% of the revenue, the top 10% earn 67%; half of
    the revenue comes from the top 3%." (with fewer than 100 resources, the top one or more)."""
    top_1, top_10, half = concentration.top(0.01), concentration.top(0.10), concentration.earning(0.5)
    resources = f"{concentration.resources:,} resource{'s' if concentration.resources > 1 else ''}"
    tops = [f"the top {top_1[0]:.0%} earn {top_1[1]:.0%} of the revenue"]
    if top_10 != top_1:
        tops.append(f"the top {top_10[0]:.0%} earn {top_10[1]:.0%}")
    return f"{resources}: {', '.join(tops)}; half of the revenue comes from the top {half[0]:.0%}."
