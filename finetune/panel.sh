#!/usr/bin/env bash
# The shipped model panel (issue 17): each model is the `--model auto` winner on Hu et al.'s scaffold split, one seed.
# Usage: bash finetune/panel.sh OUT_DIR [name ...]   (default: every panel model; each writes OUT_DIR/<name> + a log)
# Out-of-fold selection (5 scaffold folds) where the validation part is small; the validation part alone for Tox21
# (783 molecules) and SIDER, whose candidates take 6x as long to refit on a CPU. Calibration (auto's rule): a
# regression's intervals on its validation part (ESOL, Lipophilicity), a classification on the out-of-fold +
# validation rows where there are refits (ClinTox), else on the validation part (Tox21, SIDER; `--selection valid`
# without --folds 0 would calibrate SIDER on out-of-fold rows too: finetune/RESULTS.md says why that is not shipped).
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
    sider|tox21) args=(--data "$name" --folds 0 --candidates trees,minimol) ;;
    tox21-fingerprints) args=(--data tox21 --folds 0 --candidates trees) ;;  # no third-party fingerprints
    *) echo "unknown panel model $name" >&2; exit 2 ;;
  esac
  gnnpt finetune "${args[@]}" --model auto --seeds 1 --figures "$figures" -o "$out/$name" 2>&1 | tee "$out/$name.log"
done
