"""Great-circle distance between two coarse area centroids.

Rule: pure arithmetic on Places; the scorer never sees an exact position,
only gazetteer centroids (about 1 km), so a spherical Earth is precise enough.
"""

from __future__ import annotations

import math

from scoring.model import Place

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def distance_km(a: Place, b: Place) -> float:
    """Haversine distance in kilometres between two places."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    h = min(1.0, max(0.0, h))  # rounding can push h a hair outside [0, 1]
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
