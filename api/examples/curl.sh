#!/usr/bin/env bash
# Example requests against a running service: gnnpt serve (http://127.0.0.1:8000).
# Add -H "X-API-Key: $GNNPT_KEY" when the service is started with --api-keys-file.
set -euo pipefail
URL=${URL:-http://127.0.0.1:8000}

curl -s "$URL/readyz"
curl -s "$URL/v1/models"
curl -s "$URL/v1/models/tox21-fast" | head -c 400; echo

# JSON: results in input order; the invalid SMILES gets an error, the others are scored.
curl -s -X POST "$URL/v1/predict" -H 'Content-Type: application/json' \
     -d '{"smiles": ["CCO", "c1ccccc1O", "not a smiles"], "ids": ["ethanol", "phenol", "junk"]}'
echo

# A named (and versioned) model, with atom attributions drawn as SVG.
curl -s -X POST "$URL/v1/models/tox21-fast/predict" -H 'Content-Type: application/json' \
     -d '{"smiles": ["O=C(O)c1ccccc1O"], "explain": true, "explain_task": "SR-MMP"}' | head -c 300; echo

# CSV upload (a SMILES column; other columns are kept) -> CSV with scores.
printf 'smiles,name\nCCO,ethanol\nc1ccccc1O,phenol\n' > /tmp/gnnpt_example.csv
curl -s -X POST "$URL/v1/predict/csv" -H 'Content-Type: text/csv' --data-binary @/tmp/gnnpt_example.csv
