// embargo admin view. Served from the binary; the CSP forbids inline script
// and inline event handlers, so behaviour is attached here.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Buttons with data-confirm ask before their form is submitted.
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
});
