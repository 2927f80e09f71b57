// Charts as inline SVG text (line charts of loss curves, bar charts per cell) for the self-contained study report.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace packbench::results {

struct Series {
  std::string name;    // legend text
  std::string color;   // CSS colour
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  bool dashed = false;
};

struct Bar {
  std::string label;
  double value = 0;
  std::string color = "#4a78c2";
};

// Round tick positions covering [lo, hi] (steps of 1, 2 or 5 x 10^k), about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// "12.5K", "3.2M", "0.25": short axis labels.
std::string short_number(double v);

// A line chart with axes, ticks, labels and a legend; one <polyline> per series with points.
std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series, int width = 640, int height = 340);
// A horizontal bar chart, one bar per entry, its value printed at the end with `unit`.
std::string svg_bar_chart(const std::string& title, const std::string& unit, const std::vector<Bar>& bars,
                          int width = 640);

}  // namespace packbench::results
