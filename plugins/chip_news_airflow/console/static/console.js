// Links out of the console (articles, Slack permalinks) open in a new tab. Inside the Airflow UI the
// console is framed in a sandbox without "allow-popups", where the browser silently blocks target=_blank;
// the frame shares the UI's origin, so the UI's own window opens them. The console's only script: the
// Content-Security-Policy lets no other script run (none inline, none from elsewhere).
document.addEventListener("click", function (event) {
  var link = event.target instanceof Element ? event.target.closest('a[target="_blank"]') : null;
  if (!link || window.top === window || event.defaultPrevented) {
    return;
  }
  event.preventDefault();
  window.top.open(link.href, "_blank", "noopener,noreferrer");
});
