#!/usr/bin/env bash
# Generates random-weight models of named shapes with worker-orcd-synth (and
# quantized files made from them with llama.cpp's llama-quantize), runs
# worker-orcd-bench on each (engine figures and HTTP through the real worker)
# and, given llama.cpp, llama-bench (and llama-server) on the very same files,
# then prints each model's side-by-side table and one compact table last.
# It never builds: build/bin must hold worker-orcd, worker-orcd-synth,
# worker-orcd-bench and worker-orcd-bench-compare (a CUDA build). See
# bench/README.md.
#
# usage: scripts/bench.sh --out DIR [options] [-- BENCH_FLAGS...]
#   --out DIR       everything this run writes but the models: tables (.md),
#                   JSON, logs (created; tar it to take the results away)
#   --shapes LIST   comma-separated synth shapes (default tinyllama-1.1b,llama2-7b:
#                   also llama3-8b, qwen2.5-0.5b, phi3-mini-4k, gpt2-124m,
#                   gpt-oss-20b, gpt-oss-tiny); an item naming an existing .gguf
#                   file is benchmarked as it is
#   --type T        f16, f32 or q8_0: the synthesized file (default f16);
#                   gpt-oss shapes are always written q8_0 (MXFP4 experts, the
#                   published layout) and never re-quantized
#   --quant LIST    also make these llama-quantize ftypes of each synthesized
#                   file (e.g. Q4_K_M,Q8_0,Q4_0; needs --llama-cpp) and bench them;
#                   a shape item may carry its own list instead, joined by '+'
#                   after a colon: llama2-7b:Q4_K_M+Q8_0+Q4_0 (tinyllama-1.1b: none)
#   --llama-cpp DIR llama.cpp's build (bin/llama-bench, bin/llama-quantize,
#                   bin/llama-server, lib/), or its .tar.xz: llama-bench
#                   -p 512 -n 128 -d 0,4096 -r 3 -fa 1 runs on the same files
#   --peer-http     also time llama-server over HTTP on each file, with the same
#                   client and prompt token ids as worker-orcd (needs --llama-cpp)
#   --vocab PATH    a vocab GGUF or a folder holding them (directly or under
#                   tokenizer/): ggml-vocab-llama-spm.gguf for tinyllama-1.1b and
#                   llama2-7b (a file given is used for these two), ggml-vocab-phi-3.gguf
#                   for phi3-mini-4k, ggml-vocab-gpt-2.gguf for gpt2-124m. Other
#                   shapes, or without --vocab: the synthesizer's byte vocabulary
#                   of the shape's size, with fillers that render as text (fine
#                   for speed figures; the tables say so)
#   --synth-args "ARGS"  more worker-orcd-synth flags for every shape, e.g.
#                   "--dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128" (small files)
#   --reps N        timed repetitions: worker-orcd-bench --reps and llama-bench -r
#                   (default 5 and 3)
#   --depths LIST   decode depths for both (default: the bench's 0,1024,4096 and
#                   llama-bench's 0,4096); the tables show these (default 0,4096)
#   --prompts LIST  prefill lengths for both (default: the bench's 128,512,2048
#                   and llama-bench's 512); the tables show 512, else the first
#   --skip-http     no HTTP figures (neither server)
#   --skip-ours     llama.cpp only (no worker-orcd-bench; no copy ceiling, no shares)
#   --build DIR     build tree whose bin/ holds the programs (default build)
#   --models DIR    where the model files go (default ${TMPDIR:-/tmp}/orcd-bench-models);
#                   keep it out of --out: a 7B F16 file is 13.5 GB
#   --gpu N         CUDA device ordinal (default 0)
#   --cpu           the CPU backend instead (a smoke run of this script)
#   --seed N        weight seed (default 1)
#   --regen         write the model files again even when present
#   --delete-models remove each file once benchmarked (quantized files at once,
#                   the synthesized one after its quantizations): frees the disk
# Everything after -- goes to worker-orcd-bench (e.g. -- --http-runs 3).
# Exit status: 0 when every file was made and benchmarked by every engine
# asked for without a failed part; 1 otherwise; 2 for bad arguments.
set -u
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
vocab="" out="" build="build" models="${TMPDIR:-/tmp}/orcd-bench-models"
shapes="tinyllama-1.1b,llama2-7b" type="f16" gpu=0 seed=1 regen=0 delete=0
quant="" llama_cpp="" peer_http=0 reps="" depths="" prompts="" skip_http=0 skip_ours=0 synth_args=""
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
    --quant) quant="${2:-}"; shift ;;
    --llama-cpp) llama_cpp="${2:-}"; shift ;;
    --peer-http) peer_http=1 ;;
    --synth-args) synth_args="${2:-}"; shift ;;
    --reps) reps="${2:-}"; shift ;;
    --depths) depths="${2:-}"; shift ;;
    --prompts) prompts="${2:-}"; shift ;;
    --skip-http) skip_http=1 ;;
    --skip-ours) skip_ours=1 ;;
    --gpu) gpu="${2:-}"; shift ;;
    --cpu) gpu="" ;;
    --seed) seed="${2:-}"; shift ;;
    --regen) regen=1 ;;
    --delete-models) delete=1 ;;
    --) shift; bench_flags=("$@"); break ;;
    -h|--help) sed -n '2,55p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
list_re='^[0-9]+(,[0-9]+)*$'
[[ -n "$out" ]] || die "--out DIR is required"
[[ "$type" =~ ^(f16|f32|q8_0)$ ]] || die "--type must be f16, f32 or q8_0"
[[ -z "$reps" || "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer"
[[ -z "$depths" || "$depths" =~ $list_re ]] || die "--depths needs a comma-separated list of numbers"
[[ -z "$prompts" || "$prompts" =~ $list_re ]] || die "--prompts needs a comma-separated list of numbers"
[[ -z "$quant" && "$shapes" != *:[A-Za-z0-9]* ]] || [[ -n "$llama_cpp" ]] ||
  die "--quant needs --llama-cpp (llama-quantize makes the files)"
((peer_http == 0)) || [[ -n "$llama_cpp" ]] || die "--peer-http needs --llama-cpp"
[[ -z "$vocab" || -e "$vocab" ]] || die "no vocab file or folder at '$vocab'"
bin="$build/bin"
needed=(worker-orcd-synth worker-orcd-bench-compare)
((skip_ours)) || needed+=(worker-orcd worker-orcd-bench)
for p in "${needed[@]}"; do
  [[ -x "$bin/$p" ]] || die "$bin/$p is missing: build the CUDA tree first (targets worker-orcd worker-orcd-synth worker-orcd-bench worker-orcd-bench-compare)"
done
mkdir -p "$out" "$models" || die "cannot create $out or $models"
out=$(cd "$out" && pwd)
bin=$(cd "$bin" && pwd)

# llama.cpp: a folder, or its tarball unpacked next to the models.
lc=""
if [[ -n "$llama_cpp" ]]; then
  if [[ -f "$llama_cpp" ]]; then
    lc="$models/llama.cpp"
    { rm -rf "$lc" && mkdir -p "$lc" && tar -xJf "$llama_cpp" -C "$lc"; } || die "cannot unpack $llama_cpp"
  else
    lc=$(cd "$llama_cpp" 2>/dev/null && pwd) || die "no llama.cpp folder at '$llama_cpp'"
  fi
  for p in llama-bench llama-quantize llama-server; do
    [[ -x "$lc/bin/$p" ]] || die "$lc/bin/$p is missing (--llama-cpp wants llama.cpp's bin/ and lib/)"
  done
  export LD_LIBRARY_PATH="$lc/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
fi

# The bench looks the commit up with git in its source folder; where the tree
# travelled without it, this is what it reports instead.
if [[ -z "${ORCD_COMMIT:-}" ]]; then
  ORCD_COMMIT=$(git -C "$root" rev-parse HEAD 2>/dev/null || true)
  [[ -n "$ORCD_COMMIT" ]] && export ORCD_COMMIT
fi

# What each engine is asked for, and what the tables show.
ours_flags=() lb_depths="0,4096" lb_prompts="512" lb_reps=3 table_depths="0,4096" table_pp=512
[[ -n "$reps" ]] && { ours_flags+=(--reps "$reps"); lb_reps=$reps; }
[[ -n "$depths" ]] && { ours_flags+=(--depths "$depths"); lb_depths=$depths; table_depths=$depths; }
if [[ -n "$prompts" ]]; then
  ours_flags+=(--prompts "$prompts"); lb_prompts=$prompts
  [[ ",$prompts," == *,512,* ]] || table_pp=${prompts%%,*}
fi
((skip_http)) && ours_flags+=(--skip-http)
((peer_http && !skip_http)) && ours_flags+=(--llama-server "$lc/bin/llama-server")
if [[ -n "$gpu" ]]; then device_flags=(--gpu-device "$gpu"); else device_flags=(--device cpu); fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(hostname), $(nproc) cores, $(free -g 2>/dev/null | awk '/^Mem:/{print $2 " GiB RAM"}')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used \
    --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo "disk free for models: $(df -h "$models" | awk 'NR==2{print $4}') in $models"
  echo "vocab: ${vocab:-none given (byte vocabularies)}"
  echo "commit: ${ORCD_COMMIT:-unknown}"
  [[ -n "$lc" ]] && echo "llama.cpp: $lc ($("$lc/bin/llama-server" --version 2>&1 | grep -m1 version || echo '?'))"
  echo "shapes: $shapes; type $type; quant ${quant:-none}; depths ${depths:-default}; prompts ${prompts:-default}; reps ${reps:-default}"
} | tee "$out/machine.txt"

status=0
tables=()
manifest="$out/manifest.tsv"
printf '# model\tformat\tinfo\tworker-orcd-bench\tllama-bench\tnote\n' > "$manifest"
t_start=$SECONDS
: > "$out/timings.tsv"
timed() {  # label, command...: runs it, logs its seconds to timings.tsv
  local label=$1 t0=$SECONDS rc
  shift
  "$@"; rc=$?
  printf '%s\t%s\t%s\n' "$label" "$((SECONDS - t0))" "$rc" >> "$out/timings.tsv"
  return $rc
}

# The tokenizer a shape is written with: its real vocabulary when --vocab
# provides it, else nothing (the byte vocabulary).
vocab_for() {
  local want="" dir f
  case "$1" in
    tinyllama-1.1b|llama2-7b) want=ggml-vocab-llama-spm.gguf ;;
    phi3-mini-4k) want=ggml-vocab-phi-3.gguf ;;
    gpt2-124m) want=ggml-vocab-gpt-2.gguf ;;
  esac
  [[ -n "$want" && -n "$vocab" ]] || return 0
  if [[ -f "$vocab" ]]; then
    [[ "$want" == ggml-vocab-llama-spm.gguf || "$(basename "$vocab")" == "$want" ]] && { echo "$vocab"; return 0; }
    dir=$(dirname "$vocab")
  else
    dir=$vocab
  fi
  for f in "$dir/$want" "$dir/tokenizer/$want"; do [[ -f "$f" ]] && { echo "$f"; return 0; }; done
  return 0
}

# worker-orcd-bench on one file: the table alone in the .md, progress in the
# .log, followed on the terminal. (Functions run through `timed`.)
# shellcheck disable=SC2317
run_ours() {  # model file, name
  local log="$out/bench-$2.log" pid tail_pid rc
  : > "$log"
  "$bin/worker-orcd-bench" --model "$1" "${device_flags[@]}" --json "$out/bench-$2.json" \
      "${ours_flags[@]}" "${bench_flags[@]}" > "$out/bench-$2.md" 2> "$log" &
  pid=$!
  tail -n +1 -f --pid="$pid" "$log" >&2 &
  tail_pid=$!
  wait "$pid"; rc=$?
  wait "$tail_pid"
  return "$rc"
}

# shellcheck disable=SC2317
run_llama_bench() {  # model file, name
  # Bounded: a llama-bench that hangs must not eat the run (a 7B file takes
  # well under a minute on an H200).
  timeout -k 10 300 "$lc/bin/llama-bench" -m "$1" -p "$lb_prompts" -n 128 -d "$lb_depths" -r "$lb_reps" -fa 1 \
    -o json > "$out/llama-bench-$2.json" 2> "$out/llama-bench-$2.log"
}

# Benchmarks one file with every engine asked for; one manifest line.
bench_file() {  # model, format, file, name, note
  local model=$1 fmt=$2 file=$3 name=$4 note=$5 info="-" ours="-" llama="-" rc
  echo; echo "=== $name ($fmt, $(du -h "$file" | cut -f1)) ==="
  if "$bin/worker-orcd-bench-compare" info "$file" > "$out/info-$name.json" 2> "$out/info-$name.log"; then
    info="info-$name.json"
    rm -f "$out/info-$name.log"
  else
    note="${note:+$note; }no file shape: $(tail -1 "$out/info-$name.log")"
  fi
  if ((skip_ours == 0)); then
    timed "worker-orcd-bench $name" run_ours "$file" "$name"; rc=$?
    echo "worker-orcd-bench: exit $rc after $(tail -1 "$out/timings.tsv" | cut -f2) s"
    ((rc == 0)) || status=1
    ours="bench-$name.json"
    [[ -s "$out/bench-$name.md" ]] && tables+=("$out/bench-$name.md")
  fi
  if [[ -n "$lc" ]]; then
    timed "llama-bench $name" run_llama_bench "$file" "$name"; rc=$?
    echo "llama-bench: exit $rc after $(tail -1 "$out/timings.tsv" | cut -f2) s (log llama-bench-$name.log)"
    if ((rc != 0)); then
      status=1
      note="${note:+$note; }llama-bench exit $rc: $(grep -v '^$' "$out/llama-bench-$name.log" | tail -1 | cut -c1-160)"
    fi
    llama="llama-bench-$name.json"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$model" "$fmt" "$info" "$ours" "$llama" "${note//$'\t'/ }" >> "$manifest"
}

compare_args=(--manifest "$manifest" --depths "$table_depths" --pp "$table_pp")
IFS=',' read -r -a shape_list <<< "$shapes"
IFS=',' read -r -a quant_list <<< "$quant"
for item in "${shape_list[@]}"; do
  note="" shape=${item%%:*} quants=("${quant_list[@]}")
  [[ "$item" == *:* ]] && IFS='+' read -r -a quants <<< "${item#*:}"
  if [[ "$shape" == *.gguf ]]; then
    [[ -f "$shape" ]] || { echo "no model file $shape"; status=1; continue; }
    base=$shape model=$(basename "$shape" .gguf) fmt="as given" stem=$model
    echo; echo "######## $model (file $shape)"
  else
    model=$shape stype=$type fmt=${type^^}
    if [[ "$shape" == gpt-oss* ]]; then stype=q8_0 fmt=MXFP4_MOE; fi
    stem="$shape"
    name="$shape-${fmt,,}"
    [[ "$fmt" == MXFP4_MOE ]] || name="$shape-$stype"
    base="$models/$name.gguf"
    v=$(vocab_for "$shape")
    if [[ -n "$v" ]]; then
      vocab_args=(--vocab "$v")
    else
      vocab_args=(--word-fillers)
      note="byte vocabulary of the shape's size (speed figures only)"
    fi
    echo; echo "######## $shape"
    if [[ $regen == 1 || ! -s "$base" ]]; then
      # shellcheck disable=SC2086  # --synth-args is a list of flags
      if ! timed "synth $name" "$bin/worker-orcd-synth" --shape "$shape" --type "$stype" "${vocab_args[@]}" \
          --seed "$seed" $synth_args -o "$base" > "$out/synth-$name.log" 2>&1; then
        echo "synth FAILED for $name:"; tail -20 "$out/synth-$name.log"
        rm -f "$base"; status=1; continue
      fi
      echo "synth: $(tail -1 "$out/synth-$name.log") ($(tail -1 "$out/timings.tsv" | cut -f2) s)"
    else
      echo "synth: reusing $base ($(du -h "$base" | cut -f1))"
    fi
  fi
  bench_file "$model" "$fmt" "$base" "$(basename "$base" .gguf)" "$note"

  for q in "${quants[@]}"; do
    [[ -n "$q" ]] || continue
    if [[ "$fmt" == MXFP4_MOE ]]; then
      echo "$model: not re-quantized to $q (the gpt-oss file is in its published layout)"; continue
    fi
    qname="$stem-${q,,}" qfile="$models/$stem-${q,,}.gguf"
    if [[ $regen == 1 || ! -s "$qfile" ]]; then
      if ! timed "quantize $qname" timeout -k 10 600 "$lc/bin/llama-quantize" "$base" "$qfile" "$q" "$(nproc)" \
          > "$out/quantize-$qname.log" 2>&1; then
        echo "llama-quantize $q FAILED for $model:"; tail -5 "$out/quantize-$qname.log"
        rm -f "$qfile"; status=1; continue
      fi
      echo; echo "quantize $q: $(du -h "$qfile" | cut -f1) in $(tail -1 "$out/timings.tsv" | cut -f2) s"
    fi
    bench_file "$model" "$q" "$qfile" "$qname" "$note"
    if ((delete == 1)); then rm -f "$qfile"; fi
  done
  if ((delete == 1)) && [[ "$base" == "$models/"* ]]; then rm -f "$base"; fi

  "$bin/worker-orcd-bench-compare" table "${compare_args[@]}" --model "$model" > "$out/compare-$model.md" \
    2> "$out/compare-$model.log" || { status=1; cat "$out/compare-$model.log"; }
  [[ -s "$out/compare-$model.log" ]] || rm -f "$out/compare-$model.log"
  echo; cat "$out/compare-$model.md"
done

echo
echo "================ worker-orcd tables ================"
for t in "${tables[@]}"; do cat "$t"; echo; done
echo "================ worker-orcd and llama.cpp, per model ================"
for item in "${shape_list[@]}"; do
  m=${item%%:*}; [[ "$m" == *.gguf ]] && m=$(basename "$m" .gguf)
  [[ -s "$out/compare-$m.md" ]] && { cat "$out/compare-$m.md"; echo; }
done
echo "results in $out (compare-*.md, summary.md, summary.json, bench-*.{md,json,log}, llama-bench-*.{json,log},"
echo "  *.worker.log, *.llama-server.log, timings.tsv, manifest.tsv); $((SECONDS - t_start)) s in all"
echo
"$bin/worker-orcd-bench-compare" table "${compare_args[@]}" --compact --json "$out/summary.json" > "$out/summary.md" \
  2> "$out/summary.log" || { status=1; cat "$out/summary.log"; }
[[ -s "$out/summary.log" ]] || rm -f "$out/summary.log"
cat "$out/summary.md"
exit $status
