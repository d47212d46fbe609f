// Sorts the class summary's student table by the column whose heading is chosen. The table
// is already in name order without it: this only adds the buttons.
(function () {
  var table = document.getElementById("students");
  if (!table) return;
  var body = table.tBodies[0];
  var heads = table.querySelectorAll("th[data-sort]");
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  function value(row, index, kind) {
    var cell = row.cells[index];
    var text = cell.getAttribute("data-value");
    if (text === null) text = cell.textContent.trim();
    return kind === "number" ? parseFloat(text) : text;
  }
  Array.prototype.forEach.call(heads, function (head) {
    var button = document.createElement("button");
    button.type = "button";
    while (head.firstChild) button.appendChild(head.firstChild);
    head.appendChild(button);
    button.addEventListener("click", function () {
      var index = head.cellIndex;
      var kind = head.getAttribute("data-sort");
      var ascending = head.getAttribute("aria-sort") !== "ascending";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = value(a, index, kind);
        var y = value(b, index, kind);
        var order = kind === "number" ? x - y : collator.compare(x, y);
        return ascending ? order : -order; // a stable sort: ties stay in name order
      });
      Array.prototype.forEach.call(heads, function (other) {
        other.removeAttribute("aria-sort");
      });
      head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      rows.forEach(function (row) {
        body.appendChild(row);
      });
    });
  });
})();
