// Draws the dashboard's charts with Chart.js from the numbers the page embeds
// (the same JSON as GET /api/admin/dashboard).
"use strict";

const data = JSON.parse(document.getElementById("dashboard-data").textContent);
const palette = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#64748b"];
const colourOf = {
  booked: "#16a34a", escalated: "#dc2626", message: "#f59e0b", abandoned: "#64748b", completed: "#2563eb",
  llm: "#2563eb", offline: "#f59e0b", escalation: "#dc2626", callback_promise: "#7c3aed",
};

Chart.defaults.animation = false; // numbers, not a show
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

function integerAxis() {
  return { beginAtZero: true, ticks: { precision: 0 } };
}

function emptyNote(canvas, text) {
  const note = document.createElement("p");
  note.className = "empty";
  note.textContent = text;
  canvas.replaceWith(note);
}

function doughnut(id, counts, emptyText) {
  const canvas = document.getElementById(id);
  const labels = Object.keys(counts);
  if (labels.length === 0) return emptyNote(canvas, emptyText);
  new Chart(canvas, {
    type: "doughnut",
    data: {
      labels,
      datasets: [{ data: Object.values(counts), backgroundColor: labels.map((l, i) => colourOf[l] || palette[i % palette.length]) }],
    },
    options: { plugins: { legend: { position: "right" } } },
  });
}

const days = data.calls_per_day.map((row) => row.day);

new Chart(document.getElementById("calls-per-day"), {
  type: "bar",
  data: {
    labels: days,
    datasets: [
      { label: "Calls", data: data.calls_per_day.map((row) => row.calls), backgroundColor: "#2563eb" },
      { label: "Booked", data: data.calls_per_day.map((row) => row.booked), backgroundColor: "#16a34a" },
    ],
  },
  options: { scales: { y: integerAxis() } },
});

const latency = document.getElementById("latency");
if (data.latency_distribution.every((bucket) => bucket.turns === 0)) {
  emptyNote(latency, "No replies in this range.");
} else {
  new Chart(latency, {
    type: "bar",
    data: {
      labels: data.latency_distribution.map((bucket) => bucket.label),
      datasets: [{
        label: "Replies",
        data: data.latency_distribution.map((bucket) => bucket.turns),
        // Green within the 3 s target, red beyond it.
        backgroundColor: data.latency_distribution.map((bucket) => (bucket.within_target ? "#16a34a" : "#dc2626")),
      }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: integerAxis() } },
  });
}

doughnut("outcomes", data.outcomes, "No finished calls in this range.");
doughnut("fallbacks", data.fallback_levels, "No finished calls in this range.");

new Chart(document.getElementById("cost"), {
  type: "line",
  data: {
    labels: days,
    datasets: [{ label: "Estimated cost (USD)", data: data.calls_per_day.map((row) => row.cost_usd), borderColor: "#7c3aed", backgroundColor: "#7c3aed" }],
  },
  options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
});

new Chart(document.getElementById("mood"), {
  type: "line",
  data: {
    labels: days,
    datasets: [{ label: "Mood", data: data.calls_per_day.map((row) => row.mood), borderColor: "#ea580c", backgroundColor: "#ea580c", spanGaps: true }],
  },
  options: { plugins: { legend: { display: false } }, scales: { y: { min: -1, max: 1 } } },
});
