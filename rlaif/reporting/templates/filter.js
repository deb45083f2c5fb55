// The answer filter: by criterion, verdict and text, on the rows the page already holds (no data loaded).
document.querySelectorAll(".answers-block").forEach(function (block) {
  var criterion = block.querySelector("select.criterion");
  var verdict = block.querySelector("select.verdict");
  var kind = block.querySelector("select.kind");
  var text = block.querySelector("input.text");
  var count = block.querySelector(".shown");
  var rows = Array.prototype.slice.call(block.querySelectorAll("tbody tr"));
  function apply() {
    var c = criterion.value, v = verdict.value, k = kind.value, t = text.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var verdicts = JSON.parse(row.getAttribute("data-verdicts"));
      var ok = (k === "" || row.getAttribute("data-kind") === k) &&
        (t === "" || row.getAttribute("data-text").indexOf(t) >= 0);
      if (ok && v !== "") {
        var names = c === "" ? Object.keys(verdicts) : [c];
        ok = names.some(function (n) { return n in verdicts && String(verdicts[n]) === v; });
      } else if (ok && c !== "") {
        ok = c in verdicts;
      }
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = String(shown);
  }
  [criterion, verdict, kind].forEach(function (el) { el.addEventListener("change", apply); });
  text.addEventListener("input", apply);
  apply();
});
