#!/usr/bin/env bash
# The shipped `tox21-fast` (issue 14): a GIN 5x64 distilled from the shipped `tox21` (the panel's auto model) on its
# scaffold split, learning the teacher's calibrated probabilities on 150,000 unlabeled molecules (90,000 ZINC250k +
# 60,000 ChEMBL v31, shuffled with fixed seeds; sha256 of the file: f339d8e9...c34c42e).
# Usage: bash finetune/fast_student.sh OUT_DIR   (writes OUT_DIR/distill_corpus.csv, OUT_DIR/tox21-fast and a log)
set -euo pipefail
out=${1:?usage: bash finetune/fast_student.sh OUT_DIR}
mkdir -p "$out"
python pretraining/distill_corpus.py --raw "$out/distill_corpus.csv"
sha256sum "$out/distill_corpus.csv"
gnnpt distill --teacher tox21 --corpus "$out/distill_corpus.csv" --epochs 12 --emb-dim 64 --num-layer 5 --half \
  -o "$out/tox21-fast" 2>&1 | tee "$out/tox21-fast.log"
