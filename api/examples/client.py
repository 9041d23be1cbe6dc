"""Example client: score SMILES with a running gnnpt service (``gnnpt serve``) using httpx.

python api/examples/client.py CCO c1ccccc1O "not a smiles"
"""

from __future__ import annotations

import os
import sys

import httpx

URL = os.environ.get("GNNPT_URL", "http://127.0.0.1:8000")
HEADERS = {"X-API-Key": os.environ["GNNPT_KEY"]} if "GNNPT_KEY" in os.environ else {}


def score(smiles: list[str], model: str | None = None) -> dict:
    """The service's answer for ``smiles``: one result per SMILES, in order, with scores or an error."""
    path = f"/v1/models/{model}/predict" if model else "/v1/predict"
    response = httpx.post(URL + path, json={"smiles": smiles}, headers=HEADERS, timeout=60)
    response.raise_for_status()  # 4xx: the message says what to change (too many molecules, wrong key, ...)
    return response.json()


if __name__ == "__main__":
    answer = score(sys.argv[1:] or ["CCO", "c1ccccc1O", "not a smiles"])
    for r in answer["results"]:
        if r["error"]:
            print(f"{r['smiles']:30s} error: {r['error']}")
        else:
            top = max(r["scores"], key=r["scores"].get)
            domain = "in domain" if r["in_domain"] else "OUT of domain"
            print(
                f"{r['smiles']:30s} highest {top} = {r['scores'][top]:.3f} "
                f"({domain}, max sim {r['max_similarity']:.2f})"
            )
