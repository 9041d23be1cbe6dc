#!/usr/bin/env bash
# The shipped model panel (issue 17): each model is the `--model auto` winner on Hu et al.'s scaffold split, one seed.
# Usage: bash finetune/panel.sh OUT_DIR [name ...]   (default: every panel model; each writes OUT_DIR/<name> + a log)
# Out-of-fold selection (5 scaffold folds) where the validation part is small; the validation part alone for Tox21
# (783 molecules) and SIDER (`--selection valid`: the out-of-fold rows of its 5 scaffold folds only calibrate).
# Calibration (auto's rule): a regression's intervals on its validation part (ESOL, Lipophilicity), a classification
# on the out-of-fold + validation rows where there are refits (ClinTox, SIDER), else on the validation part (Tox21).
# No random-forest candidate for the multi-task sets: a 500-tree forest of 255 leaves is ~14 MB of LightGBM text
# per Tox21 task, past the panel's 30 MB. Reliability PNGs go to finetune/results/panel/.
set -euo pipefail
out=${1:?usage: bash finetune/panel.sh OUT_DIR [name ...]}; shift
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(esol clintox lipophilicity sider tox21 tox21-fingerprints)
figures=finetune/results/panel
mkdir -p "$out" "$figures"
for name in "${names[@]}"; do
  case $name in
    esol|lipophilicity|clintox) args=(--data "$name") ;;
    sider) args=(--data "$name" --selection valid --candidates trees,minimol) ;;
    tox21) args=(--data "$name" --folds 0 --candidates trees,minimol) ;;
    tox21-fingerprints) args=(--data tox21 --folds 0 --candidates trees) ;;  # no third-party fingerprints
    *) echo "unknown panel model $name" >&2; exit 2 ;;
  esac
  gnnpt finetune "${args[@]}" --model auto --seeds 1 --figures "$figures" -o "$out/$name" 2>&1 | tee "$out/$name.log"
done
