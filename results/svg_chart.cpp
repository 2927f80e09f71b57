// Charts as inline SVG text (line charts of loss curves, bar charts per cell) for the self-contained study report.
#include "results/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "results/table.h"

namespace packbench::results {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9);
  for (int i = 0; i < 1000; ++i) {
    double t = (first + i) * step;
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    if (t >= hi - step * 1e-9) break;
  }
  return ticks;
}

std::string short_number(double v) {
  const double a = std::fabs(v);
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (a >= 1e9) return trim(fmt::format("{:.2f}", v / 1e9)) + "G";
  if (a >= 1e6) return trim(fmt::format("{:.2f}", v / 1e6)) + "M";
  if (a >= 1e4) return trim(fmt::format("{:.1f}", v / 1e3)) + "K";
  if (a >= 100 || a == 0) return trim(fmt::format("{:.0f}", v));
  if (a >= 1) return trim(fmt::format("{:.2f}", v));
  return trim(fmt::format("{:.3g}", v));
}

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series, int width, int height) {
  const int left = 64, right = 170, top = 34, bottom = 48;
  const int pw = width - left - right, ph = height - top - bottom;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  std::string out = fmt::format(
      "<svg class=\"chart line-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\">\n<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
      width, height, width, height, html_escape(title), left, html_escape(title));
  if (!std::isfinite(x0)) {
    return out + fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#888\">no data</text>\n</svg>\n", left, top + ph / 2);
  }
  auto xt = nice_ticks(std::min(0.0, x0), x1), yt = nice_ticks(y0, y1);
  const double xa = xt.front(), xb = xt.back(), ya = yt.front(), yb = yt.back();
  auto px = [&](double x) { return left + (xb > xa ? (x - xa) / (xb - xa) : 0.5) * pw; };
  auto py = [&](double y) { return top + ph - (yb > ya ? (y - ya) / (yb - ya) : 0.5) * ph; };
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"#999\"/>\n", left, top, pw, ph);
  for (double t : xt) {
    out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" font-size=\"11\" text-anchor=\"middle\">{4}</text>\n",
                       px(t), top, top + ph, top + ph + 15, short_number(t));
  }
  for (double t : yt) {
    out += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#eee\"/>"
                       "<text x=\"{3}\" y=\"{4:.1f}\" font-size=\"11\" text-anchor=\"end\">{5}</text>\n",
                       left, py(t), left + pw, left - 6, py(t) + 4, short_number(t));
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n", left + pw / 2,
                     height - 10, html_escape(x_label));
  out += fmt::format("<text x=\"14\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>\n",
                     top + ph / 2, top + ph / 2, html_escape(y_label));
  int legend_y = top + 4;
  for (const auto& s : series) {
    std::string pts;
    for (const auto& [x, y] : s.points) {
      if (std::isfinite(x) && std::isfinite(y)) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    }
    out += fmt::format("<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{} points=\"{}\"><title>{}</title></polyline>\n",
                       html_escape(s.color), s.dashed ? " stroke-dasharray=\"5 3\"" : "", pts, html_escape(s.name));
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>"
                       "<text x=\"{5}\" y=\"{6}\" font-size=\"11\">{7}</text>\n",
                       left + pw + 10, legend_y, left + pw + 30, html_escape(s.color),
                       s.dashed ? " stroke-dasharray=\"5 3\"" : "", left + pw + 34, legend_y + 4, html_escape(s.name));
    legend_y += 16;
  }
  return out + "</svg>\n";
}

std::string svg_bar_chart(const std::string& title, const std::string& unit, const std::vector<Bar>& bars, int width) {
  const int label_w = 300, value_w = 90, row_h = 20, top = 30;
  const int height = top + static_cast<int>(bars.size()) * row_h + 12;
  const int bw = width - label_w - value_w;
  double vmax = 0;
  for (const auto& b : bars) vmax = std::max(vmax, std::isfinite(b.value) ? b.value : 0.0);
  std::string out = fmt::format(
      "<svg class=\"chart bar-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\">\n<text x=\"0\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
      width, height, width, height, html_escape(title), html_escape(title));
  int y = top;
  for (const auto& b : bars) {
    const double w = vmax > 0 && std::isfinite(b.value) ? b.value / vmax * bw : 0;
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text>"
                       "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {} {}</title></rect>"
                       "<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\">{} {}</text>\n",
                       label_w - 6, y + 13, html_escape(b.label), label_w, y + 2, w, row_h - 5, html_escape(b.color),
                       html_escape(b.label), short_number(b.value), html_escape(unit), label_w + w + 4, y + 13,
                       short_number(b.value), html_escape(unit));
    y += row_h;
  }
  return out + "</svg>\n";
}

}  // namespace packbench::results
