/* The map of the search page: drawn only when Leaflet has loaded.
 * The results list works without it; the points come from the JSON
 * embedded in the page (#map-data), never from HTML. */
(function () {
  "use strict";
  var container = document.getElementById("map");
  var data = document.getElementById("map-data");
  if (!container || !data || typeof window.L === "undefined") {
    return; // no Leaflet (offline, blocked): the list is the page
  }
  var points;
  try {
    points = JSON.parse(data.textContent || "[]");
  } catch (e) {
    return;
  }
  if (!points.length) {
    return;
  }
  container.hidden = false;
  var L = window.L;
  // maxZoom on the map itself: without a tile layer, the marker clusters need it.
  var map = L.map(container, { scrollWheelZoom: false, maxZoom: 19 });
  // The tile server is the node's setting map.tile_url; empty: markers without a background.
  var tiles = container.dataset.tileUrl;
  if (tiles) {
    // Leaflet reads the attribution as HTML: the setting's text is escaped first.
    var credit = document.createElement("a");
    credit.textContent = container.dataset.attribution || "";
    var attribution = credit.innerHTML;
    if (/^https?:\/\//.test(container.dataset.attributionUrl || "")) {
      credit.href = container.dataset.attributionUrl;
      attribution = credit.outerHTML;
    }
    L.tileLayer(tiles, { maxZoom: 19, attribution: attribution }).addTo(map);
  } else {
    container.classList.add("map-no-tiles");
  }
  // Nearby results gather into numbered clusters when the plugin has loaded.
  var layer = typeof L.markerClusterGroup === "function"
    ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 })
    : L.layerGroup();
  layer.addTo(map);

  var colours = { local: "#1d6b5f", remote: "#b4530b" };
  var bounds = [];
  points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], {
      radius: 8,
      weight: 2,
      color: "#ffffff",
      fillColor: p.local ? colours.local : colours.remote,
      fillOpacity: 0.95
    });
    layer.addLayer(marker);
    // Built with DOM nodes and textContent: titles are user text.
    var popup = document.createElement("div");
    var link = document.createElement("a");
    link.href = p.url;
    link.textContent = p.title;
    var origin = document.createElement("div");
    origin.className = "map-origin";
    origin.textContent = (p.local ? container.dataset.localLabel : container.dataset.remoteLabel) + " · " + p.origin;
    popup.appendChild(link);
    popup.appendChild(origin);
    marker.bindPopup(popup);
    bounds.push([p.lat, p.lon]);
  });

  var legend = L.control({ position: "topright" });
  legend.onAdd = function () {
    var box = L.DomUtil.create("div", "map-legend");
    [["local", container.dataset.localLabel], ["remote", container.dataset.remoteLabel]].forEach(function (row) {
      var line = document.createElement("div");
      var dot = document.createElement("span");
      dot.className = "dot";
      dot.style.background = colours[row[0]];
      line.appendChild(dot);
      line.appendChild(document.createTextNode(row[1]));
      box.appendChild(line);
    });
    return box;
  };
  legend.addTo(map);

  if (bounds.length === 1) {
    map.setView(bounds[0], 11);
  } else {
    map.fitBounds(bounds, { padding: [40, 40], maxZoom: 12 });
  }
})();
