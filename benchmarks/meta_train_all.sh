#!/usr/bin/env bash
# Trains the base networks the meta benchmark uses, two at a time, one thread each:
#   in-set  : all four shared scenes -> src/hsinr/data/meta_base.hsbase (the shipped one)
#   LOSO    : each scene left out    -> $BASES/without_<scene>.hsbase
#   extras  : the 16 cubes (18 files) of ../shared/data/extra only, none of the four shared
#             scenes -> $BASES/extras_only.hsbase: leave-one-out for all four at once.
#             Flips / rotations and spectral views (--flips --spectral); the cubes with more
#             than 200 bands (205-580) are cut to random 200-band windows.
# --bands 200 (the most of the four) lets the base trained without Indian Pines (the
# others have <= 198 bands) still code it; its two extra outputs are untrained.
# ONLY=extras trains the extras-only base alone (EXTRA_STEPS steps, PROCESSES processes
# data-parallel: --processes 2 splits every batch over both cores).
# DECAY_FROM=N adds a cosine decay of the outer lr from step N (meta-train --decay-from);
# EXTRAS_NAME names the extras-only base (extras_only).
# Re-running resumes from the checkpoints (OUT.ckpt) a stopped run left.
set -euo pipefail
BASES=${BASES:-benchmarks/results/meta/bases}
STEPS=${STEPS:-2500}
EXTRA_STEPS=${EXTRA_STEPS:-$STEPS}
PROCESSES=${PROCESSES:-1}
EXTRA=${EXTRA:-../shared/data/extra}
mkdir -p "$BASES"
SCENES=(indian_pines jasper_ridge pavia_university cuprite)
TRAIN="--inner-lr 5 --outer-lr 5e-4 --bands 200 --quiet"  # 200: every base serves every scene
EXTRAS=("$EXTRA"/*.mat "$EXTRA"/corn-kernel/corn-kernel-hyperspectral.hdr
        "$EXTRA"/fenix-rock/image.hdr)
extras_job="--scenes ${EXTRAS[*]} --out $BASES/${EXTRAS_NAME:-extras_only}.hsbase \
--steps $EXTRA_STEPS --flips --spectral --batch 8 --processes $PROCESSES \
${DECAY_FROM:+--decay-from $DECAY_FROM}"
if [[ ${ONLY:-} == extras ]]; then
  OMP_NUM_THREADS=1 sh -c "hsinr meta-train $extras_job $TRAIN"
  exit
fi
jobs=("--scenes ${SCENES[*]} --out src/hsinr/data/meta_base.hsbase --steps $STEPS")
for left in "${SCENES[@]}"; do
  kept=()
  for s in "${SCENES[@]}"; do [[ $s == "$left" ]] || kept+=("$s"); done
  jobs+=("--scenes ${kept[*]} --out $BASES/without_$left.hsbase --steps $STEPS")
done
jobs+=("$extras_job")
printf '%s\n' "${jobs[@]}" | OMP_NUM_THREADS=1 xargs -P 2 -I{} sh -c "hsinr meta-train {} $TRAIN"
