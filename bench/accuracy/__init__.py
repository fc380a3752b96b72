"""bench/accuracy: a seeded ground-truth simulator measuring whether the node's alerts are right.

`python -m bench.accuracy [--quick] [--seeds ...] [--scenario ...]`; see bench/README.md.
world.py and attacks.py build the truth, run.py plays it through a real node
behind observe.py's adapter, baselines.py and metrics.py turn it into figures,
report.py prints them.
"""
