// appdock repository pages: copy-to-clipboard buttons and line highlighting. No build step.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) return;
  var text = field.value || field.textContent;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    field.select();
    document.execCommand("copy");
    done();
  }
});

function highlightLine() {
  document.querySelectorAll("tr.target").forEach(function (row) { row.classList.remove("target"); });
  var id = window.location.hash.slice(1);
  if (/^L\d+$/.test(id)) {
    var row = document.getElementById(id);
    if (row) row.classList.add("target");
  }
}
window.addEventListener("hashchange", highlightLine);
document.addEventListener("DOMContentLoaded", highlightLine);
