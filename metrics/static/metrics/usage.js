// Draws the usage charts from the numbers the page embeds (#usage-data, the same query as its CSV):
// one bar per day on a time axis, the day and count in the tooltip.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("usage-data").textContent);
  for (const canvas of document.querySelectorAll("canvas[data-kind]")) {
    const values = data.series[canvas.dataset.kind];
    new Chart(canvas, {
      type: "bar",
      data: {
        datasets: [{
          label: canvas.dataset.label,
          data: data.dates.map((day, i) => ({ x: day, y: values[i] })),
          backgroundColor: "#3d6fd8",
        }],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: {
            type: "time",
            time: { unit: "day", tooltipFormat: "EEE d MMM yyyy", displayFormats: { day: "d MMM" } },
            ticks: { autoSkip: true, maxRotation: 0 },
            grid: { display: false },
          },
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "per day" } },
        },
        interaction: { mode: "index", intersect: false },  // anywhere in a day's column, even a day of 0
        plugins: { legend: { display: false } },
      },
    });
  }
})();
