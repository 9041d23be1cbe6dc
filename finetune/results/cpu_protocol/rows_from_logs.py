"""Rows of gnnpt benchmark runs that were stopped before writing results.csv, from the lines they printed."""

import re
import sys

import pandas as pd

rows = []
pat = re.compile(r"^(\w+)\s+(.+?)\s+([\d.]+) ± ([\d.]+) \(last epoch ([\d.]+)\) in (\d+) s$")
for path in sys.argv[2:]:
    for line in open(path):
        m = pat.match(line.rstrip())
        if not m:
            continue
        ds, method, mean, std, last, wall = m.groups()
        gnn = "gcn" if method.startswith("GCN") else "gin"
        rows.append(
            {
                "dataset": ds,
                "method": method.strip(),
                "gnn_type": gnn,
                "protocol": "best_valid",
                "mean": float(mean),
                "std": float(std),
                "seeds": 3,
                "wall_s": float(wall),
            }
        )
        rows.append(
            {
                "dataset": ds,
                "method": method.strip(),
                "gnn_type": gnn,
                "protocol": "last_epoch",
                "mean": float(last),
                "std": float("nan"),
                "seeds": 3,
                "wall_s": float(wall),
            }
        )
pd.DataFrame(rows).to_csv(sys.argv[1], index=False)
print(pd.DataFrame(rows).to_string())
