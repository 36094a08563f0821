// Commune suggestions as one types, from the node's own gazetteer (GET /api/v1/places).
// Without JavaScript the field still works: a typed name is placed when the form is sent.
(function () {
  "use strict";
  var inputs = document.querySelectorAll('input[list="places-list"]');
  var list = document.getElementById("places-list");
  if (!inputs.length || !list || !window.fetch) { return; }
  var timer = null;
  var last = "";
  function suggest(value) {
    if (value.length < 2 || value === last) { return; }
    last = value;
    fetch("/api/v1/places?limit=8&q=" + encodeURIComponent(value), {
      headers: { "Accept": "application/json" }, credentials: "omit"
    }).then(function (response) {
      return response.ok ? response.json() : { items: [] };
    }).then(function (body) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      (body.items || []).forEach(function (place) {
        var option = document.createElement("option");
        option.value = place.label;
        option.textContent = place.postcodes.join(", ");
        list.appendChild(option);
      });
    }).catch(function () { /* suggestions are a help, not a need */ });
  }
  Array.prototype.forEach.call(inputs, function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var value = input.value.trim();
      timer = setTimeout(function () { suggest(value); }, 150);
    });
  });
})();
