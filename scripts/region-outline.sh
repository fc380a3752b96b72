#!/usr/bin/env bash
# Derives node/data/outline.geojson, the default gazetteer's region outline (San Diego and
# Imperial counties, California), from the US Census Bureau's cartographic boundaries as the
# us-atlas npm package redistributes them (counties-10m.json, 2017 edition, 1:10,000,000).
# Census boundary files are works of the US Government: public domain. us-atlas's own code is
# ISC; the data file carries no other terms. Run once at development time (needs npm and node;
# the node never runs this): ./scripts/region-outline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent us-atlas@3.0.1 topojson-client@3.1.0 >/dev/null \
  && mkdir us tc && tar xzf us-atlas-3.0.1.tgz -C us && tar xzf topojson-client-3.1.0.tgz -C tc)
node -e '
const topojson = require(process.argv[1] + "/tc/package/dist/topojson-client.js");
const us = require(process.argv[1] + "/us/package/counties-10m.json");
const ids = ["06073", "06025"];  // San Diego, Imperial
const counties = us.objects.counties.geometries.filter(g => ids.includes(g.id));
process.stdout.write(JSON.stringify(topojson.merge(us, counties)));
' "$work" > "$work/merged.json"
.venv/bin/python - "$work/merged.json" node/data/outline.geojson <<'PY'
import json, sys
from shapely.geometry import mapping, shape
from shapely.geometry.polygon import orient

merged = shape(json.load(open(sys.argv[1])))
polygons = sorted(getattr(merged, "geoms", [merged]), key=lambda p: -p.area)
outline = orient(polygons[0])  # the counties' mainland; no islands to keep here
coords = [[round(x, 4), round(y, 4)] for x, y in outline.exterior.coords]
feature = {
    "type": "Feature",
    "properties": {
        "name": "San Diego and Imperial counties, California",
        "source": "US Census Bureau cartographic boundary files, 2017 edition, 1:10,000,000, "
        "as redistributed by the npm package us-atlas@3.0.1 (counties-10m.json, FIPS 06073 "
        "and 06025 merged with topojson-client@3.1.0)",
        "licence": "public domain (a work of the US Government)",
        "command": "./scripts/region-outline.sh",
    },
    "geometry": {"type": "Polygon", "coordinates": [coords]},
}
with open(sys.argv[2], "w") as out:
    json.dump(feature, out, indent=1)
    out.write("\n")
print(f"{sys.argv[2]}: {len(coords)} points")
PY
