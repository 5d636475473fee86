#!/usr/bin/env bash
# Trains the base networks the meta benchmark uses, two at a time, one thread each:
#   in-set  : all four shared scenes -> src/hsinr/data/meta_base.hsbase (the shipped one)
#   LOSO    : each scene left out    -> $BASES/without_<scene>.hsbase
# --bands 200 (the most of the four) lets the base trained without Indian Pines (the
# others have <= 198 bands) still code it; its two extra outputs are untrained.
# Re-running resumes from the checkpoints (OUT.ckpt) a stopped run left.
set -euo pipefail
BASES=${BASES:-benchmarks/results/meta/bases}
STEPS=${STEPS:-2500}
mkdir -p "$BASES"
SCENES=(indian_pines jasper_ridge pavia_university cuprite)
TRAIN="--steps $STEPS --inner-lr 5 --outer-lr 5e-4 --bands 200 --quiet"  # 200: every base serves every scene
jobs=("--scenes ${SCENES[*]} --out src/hsinr/data/meta_base.hsbase")
for left in "${SCENES[@]}"; do
  kept=()
  for s in "${SCENES[@]}"; do [[ $s == "$left" ]] || kept+=("$s"); done
  jobs+=("--scenes ${kept[*]} --out $BASES/without_$left.hsbase")
done
printf '%s\n' "${jobs[@]}" | OMP_NUM_THREADS=1 xargs -P 2 -I{} sh -c "hsinr meta-train {} $TRAIN"
