"""Road network: the road graph, attaching points to it, and distance matrices.

- :mod:`landplan.network.graph` -- road lines -> a networkx graph (snapping,
  T-junctions, bridges, duplicates), its components and its gaps
- :mod:`landplan.network.attach` -- hamlets, sites, town seats and services
  joined to the nearest road (links that would cross water are avoided)
- :mod:`landplan.network.distance` -- hamlets x destinations along the roads,
  in metres and minutes, capped, long and sparse

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString, Point
>>> from landplan.network import graph_from_roads, distance_matrix
>>> roads = gpd.GeoDataFrame({"road_id": ["A"], "road_class": ["town"]},
...                          geometry=[LineString([(0, 0), (2000, 0)])], crs="EPSG:4549")
>>> hamlets = gpd.GeoDataFrame({"hamlet_id": ["H1"]}, geometry=[Point(100, 50)], crs="EPSG:4549")
>>> sites = gpd.GeoDataFrame({"site_id": ["S1"]}, geometry=[Point(1100, -20)], crs="EPSG:4549")
>>> distance_matrix(graph_from_roads(roads), hamlets, sites).long
  origin destination  distance_m  minutes
0     H1          S1      1070.0     1.78
"""

from .attach import ATTACH_COLUMNS_ZH, attach_points, destinations_from_project, town_seats
from .distance import DISTANCE_COLUMNS_ZH, DistanceMatrix, distance_matrix
from .graph import (
                    SPEEDS_KMH,
                    edges_from_graph,
                    graph_from_roads,
                    nodes_from_graph,
                    road_components,
                    road_gaps,
)

__all__ = [
                    "ATTACH_COLUMNS_ZH",
                    "DISTANCE_COLUMNS_ZH",
                    "SPEEDS_KMH",
                    "DistanceMatrix",
                    "attach_points",
                    "destinations_from_project",
                    "distance_matrix",
                    "edges_from_graph",
                    "graph_from_roads",
                    "nodes_from_graph",
                    "road_components",
                    "road_gaps",
                    "town_seats",
]
