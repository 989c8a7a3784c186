#!/usr/bin/env bash
# Generates random-weight models of named shapes with worker-orcd-synth, runs
# worker-orcd-bench on each (engine figures and HTTP through the real worker)
# and prints every table. It never builds: build/bin must hold worker-orcd,
# worker-orcd-synth and worker-orcd-bench (a CUDA build). See bench/README.md.
#
# usage: scripts/bench.sh --vocab PATH --out DIR [options] [-- BENCH_FLAGS...]
#   --vocab PATH    the Llama SentencePiece vocab GGUF, or a folder holding
#                   ggml-vocab-llama-spm.gguf (directly or under tokenizer/)
#   --out DIR       tables (.md), JSON, logs (created)
#   --build DIR     build tree whose bin/ holds the programs (default build)
#   --models DIR    where the model files go (default ${TMPDIR:-/tmp}/orcd-bench-models);
#                   keep it out of --out: a 7B F16 file is 13.5 GB
#   --shapes LIST   comma-separated synth shapes (default tinyllama-1.1b,llama2-7b);
#                   an item naming an existing .gguf file is benchmarked as it is
#   --type T        f16 or f32 (default f16)
#   --gpu N         CUDA device ordinal (default 0)
#   --cpu           the CPU backend instead (a smoke run of this script)
#   --seed N        weight seed (default 1)
#   --regen         write the model files again even when present
#   --delete-models remove each model file after its run (saves disk)
# Everything after -- goes to worker-orcd-bench (e.g. -- --skip-http --reps 3).
# Exit status: 0 when every model was generated and benchmarked without a
# failed part; 1 otherwise; 2 for bad arguments.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
vocab="" out="" build="build" models="${TMPDIR:-/tmp}/orcd-bench-models"
shapes="tinyllama-1.1b,llama2-7b" type="f16" gpu=0 seed=1 regen=0 delete=0
bench_flags=()
die() { echo "bench.sh: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --vocab) vocab="${2:-}"; shift ;;
    --out) out="${2:-}"; shift ;;
    --build) build="${2:-}"; shift ;;
    --models) models="${2:-}"; shift ;;
    --shapes) shapes="${2:-}"; shift ;;
    --type) type="${2:-}"; shift ;;
    --gpu) gpu="${2:-}"; shift ;;
    --cpu) gpu="" ;;
    --seed) seed="${2:-}"; shift ;;
    --regen) regen=1 ;;
    --delete-models) delete=1 ;;
    --) shift; bench_flags=("$@"); break ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ -n "$out" ]] || die "--out DIR is required"
[[ -n "$vocab" ]] || die "--vocab PATH is required"
if [[ -d "$vocab" ]]; then
  for f in "$vocab/ggml-vocab-llama-spm.gguf" "$vocab/tokenizer/ggml-vocab-llama-spm.gguf"; do
    [[ -f "$f" ]] && { vocab=$f; break; }
  done
fi
[[ -f "$vocab" ]] || die "no vocab file at '$vocab' (want ggml-vocab-llama-spm.gguf or a folder holding it)"
bin="$build/bin"
for p in worker-orcd worker-orcd-synth worker-orcd-bench; do
  [[ -x "$bin/$p" ]] || die "$bin/$p is missing: build the CUDA tree first (cmake -DORCD_CUDA=ON; targets worker-orcd worker-orcd-synth worker-orcd-bench)"
done
mkdir -p "$out" "$models" || die "cannot create $out or $models"
out=$(cd "$out" && pwd)

# The bench looks the commit up with git in its source folder; where the tree
# travelled without it, this is what it reports instead.
if [[ -z "${ORCD_COMMIT:-}" ]]; then
  ORCD_COMMIT=$(git -C "$root" rev-parse HEAD 2>/dev/null || true)
  [[ -n "$ORCD_COMMIT" ]] && export ORCD_COMMIT
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(hostname), $(nproc) cores, $(free -g 2>/dev/null | awk '/^Mem:/{print $2 " GiB RAM"}')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used \
    --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo "disk free for models: $(df -h "$models" | awk 'NR==2{print $4}') in $models"
  echo "vocab: $vocab"
  echo "commit: ${ORCD_COMMIT:-unknown}"
} | tee "$out/machine.txt"

status=0
tables=()
IFS=',' read -r -a shape_list <<< "$shapes"
for shape in "${shape_list[@]}"; do
  if [[ "$shape" == *.gguf ]]; then
    [[ -f "$shape" ]] || { echo "no model file $shape"; status=1; continue; }
    model=$shape name=$(basename "$shape" .gguf)
    echo; echo "=== $name ==="
  else
    name="$shape-$type"
    model="$models/$name.gguf"
    echo; echo "=== $name ==="
    if [[ $regen == 1 || ! -s "$model" ]]; then
      t0=$SECONDS
      if ! "$bin/worker-orcd-synth" --shape "$shape" --type "$type" --vocab "$vocab" --seed "$seed" -o "$model" \
          > "$out/synth-$name.log" 2>&1; then
        echo "synth FAILED for $name:"; tail -20 "$out/synth-$name.log"
        rm -f "$model"; status=1; continue
      fi
      echo "synth: $(tail -1 "$out/synth-$name.log") ($((SECONDS - t0)) s)"
    else
      echo "synth: reusing $model ($(du -h "$model" | cut -f1))"
    fi
  fi
  if [[ -n "$gpu" ]]; then device_flags=(--gpu-device "$gpu"); else device_flags=(--device cpu); fi
  t0=$SECONDS
  # The table alone in the .md; progress in the .log, followed on the terminal.
  log="$out/bench-$name.log"
  : > "$log"
  "$bin/worker-orcd-bench" --model "$model" "${device_flags[@]}" --json "$out/bench-$name.json" \
      "${bench_flags[@]}" > "$out/bench-$name.md" 2> "$log" &
  pid=$!
  tail -n +1 -f --pid="$pid" "$log" >&2 &
  tail_pid=$!
  wait "$pid"; rc=$?
  wait "$tail_pid"
  echo "bench: exit $rc after $((SECONDS - t0)) s"
  ((rc == 0)) || status=1
  [[ -s "$out/bench-$name.md" ]] && tables+=("$out/bench-$name.md")
  if ((delete == 1)) && [[ "$model" == "$models/"* ]]; then rm -f "$model"; fi
done

echo
echo "================ tables ================"
for t in "${tables[@]}"; do cat "$t"; echo; done
echo "results in $out (bench-*.md, bench-*.json, bench-*.log, bench-*.json.worker.log)"
exit $status
