#!/usr/bin/env bash
# Training at paper scale in one call on a lent GPU (the `run` device tool): CUDA tests, data
# generation, training, evaluation (1 and 8 views, clean and with the experiment chain), timings,
# all under $OUT. By default the shape-classifying network of issue 13 (shapes-train /
# shapes-test, --shapes all); SHAPES= TRAIN=paper-train TEST=paper-test trains the paper's
# icosahedron-only network instead. Both sets are evaluated, so icosahedra can be compared.
#
# The device's python3 already holds torch (CUDA), h5py, numba, scipy, matplotlib, safetensors
# and tqdm; nothing can be installed from the network there. Before the call, here:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux2014_x86_64 -d .whl roma==1.8.0 miepython==3.3.0
# then  run(command="bash recipes/paper_scale_gpu.sh", carry=[".whl"]).
#
#   bash recipes/paper_scale_gpu.sh                                   # compact-resnet width 32
#   MODEL=paper-resnet34 OPTIONS= EPOCHS=100 bash recipes/paper_scale_gpu.sh
#
# The shipped weights must stay under 16 MiB (issue 4), and so must each file brought back
# from the device: the paper's network (26 M parameters, 100 MiB) can be trained and evaluated
# there but not shipped; compact-resnet width 32 (2.8 M parameters, 11 MiB) can. Every step is
# resumable: generation continues from its shards, training from last.pt (on a machine that is
# still warm). Export the returned run here with
# `python -c "from wideshot.training import export_run; export_run('RUN_DIR')"`.
set -euo pipefail
EPOCHS=${EPOCHS:-60}
MODEL=${MODEL:-compact-resnet}
OPTIONS=${OPTIONS---model-option width=32}
OUT=${OUT:-out-gpu}
DATA=${DATA:-/tmp/wideshot-data}
DEVICE=${DEVICE:-cuda}
SMOKE=${SMOKE:-}  # set: 64 + 32 images, to try the script on a CPU (DEVICE=cpu EPOCHS=1)
SHAPES=${SHAPES---shapes all}
TRAIN=${TRAIN:-shapes-train}
TEST=${TEST:-shapes-test}
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
wideshot() { python3 -c "import sys; from wideshot.cli import main; sys.exit(main())" "$@"; }
mkdir -p "$OUT" "$DATA"
if [ "$DEVICE" != cpu ]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
  python3 -m pytest -q -p no:cacheprovider -m cuda 2>&1 | tail -5 | tee "$OUT/pytest-cuda.txt"
fi
for preset in $(printf '%s\n' "$TRAIN" "$TEST" paper-test | sort -u); do
  start=$SECONDS
  if [ -n "$SMOKE" ]; then
    size=(--n 64 --seed 1 --validation-fraction 0.25)
    [ $preset != "$TRAIN" ] && size=(--n 32 --seed 2)
    [ -n "$SHAPES" ] && [ $preset != paper-test ] && size+=(--shapes \
      icosahedron,decahedron,octahedral,twinned-tetrahedron,sphere)
  else
    size=(--preset $preset)
  fi
  wideshot generate "${size[@]}" --device "$DEVICE" --workers 1 --out "$DATA/$preset.h5" --quiet
  echo "$preset: $((SECONDS - start)) s" | tee -a "$OUT/generate.txt"
done
RUN="$OUT/runs/$MODEL"
resume=()
[ -f "$RUN/last.pt" ] && resume=(--resume)
# shellcheck disable=SC2086  # OPTIONS and SHAPES hold several words
wideshot train --train "$DATA/$TRAIN.h5" --model "$MODEL" $OPTIONS $SHAPES --epochs "$EPOCHS" \
  --batch-size 64 --lr 5e-4 --augment experiment-or-clean --device "$DEVICE" --out "$RUN" \
  "${resume[@]}"
for test in $(printf '%s\n' "$TEST" paper-test | sort -u); do
  for views in 1 8; do
    wideshot evaluate --model "$RUN" --data "$DATA/$test.h5" --views $views --quiet \
      --out "$RUN/evaluation-$test-views$views"
    wideshot evaluate --model "$RUN" --data "$DATA/$test.h5" --views $views --quiet \
      --augment experiment --out "$RUN/evaluation-$test-experiment-views$views"
  done
done
python3 benchmarks/bench_reconstruct.py --model "$RUN" --refine 0 --files 0 | tee "$OUT/bench.txt"
rm -f "$RUN/last.pt"  # optimiser state (3x the weights): not needed to ship, too big to return
