#!/usr/bin/env python3
"""Soak driver for worker-orcd (started by scripts/soak.sh; stdlib only).

Runs one worker for a long time under a mix of jobs -- greedy and sampled,
stop sequences, cancels, client disconnects, inference timeouts, requests
that fill or overflow the context, /execute while busy, and injected faults
where the build has the hook -- while a sampler records, every --sample-sec,
the worker's RSS, its tracked device bytes (/health), the device's free
memory (cudaMemGetInfo via /metrics) and nvidia-smi's view. Writes
samples.csv, jobs.csv, summary.json and summary.txt into --out, then a PNG
plot when matplotlib is importable. Exit 0 when every criterion passes, 1
when one fails, 2 when the soak could not run.

Criteria (after the warm-up): RSS growth < --rss-limit-mb, tracked device
bytes unchanged, device memory in use (total - free) unchanged, no unexpected
answer or error code, the worker alive and healthy throughout and exiting 0
on /shutdown, and the decode throughput of a fixed probe job in the last
minute within --throughput-tolerance of the first minute.
"""

import argparse
import csv
import json
import os
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

from plot import plot_soak

PROMPTS = [
    "Once upon a time",
    "The little dog ran to the park and",
    "She opened the door and saw",
    "In a small town by the sea there lived",
    "Tom and his sister liked to play with",
    "One day, the sun was hot and",
]
FILL_SENTENCE = "The cat sat on the mat and looked at the little red ball. "
MAX_SOAK_CTX = 4096  # without --ctx-size, a larger model context is cut to this
PROBE = {"prompt": "Once upon a time", "max_tokens": 64, "temperature": 0, "seed": 1}
STOPS = [[".", "!"], [" the"], ["\n"], [" and", " was"], ["a"]]


def log(msg):
    print(f"soak: {msg}", flush=True)


# ---- HTTP over plain sockets: full control over half-close and reset --------


class HttpError(Exception):
    pass


def connect(port, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request_bytes(method, path, body=b"", headers=None):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Response:
    def __init__(self, sock, timeout):
        self.sock = sock
        self.buf = b""
        self.timeout = timeout
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"bad status line {lines[0]!r}")
        self.status = int(parts[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def _recv(self):
        self.sock.settimeout(self.timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def body(self):
        n = int(self.headers.get("content-length", "-1"))
        try:
            while n < 0 or len(self.buf) < n:
                self._recv()
        except EOFError:
            if n >= 0:
                raise HttpError("connection closed inside the body")
        return self.buf if n < 0 else self.buf[:n]

    def events(self):
        """Yields (type, data dict) until the server closes the stream."""
        while True:
            while b"\n\n" not in self.buf:
                try:
                    self._recv()
                except EOFError:
                    if self.buf.strip():
                        raise HttpError("stream cut inside an event")
                    return
            raw, self.buf = self.buf.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in raw.decode().split("\n"))
            yield fields["event"], json.loads(fields["data"])


def http(port, method, path, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with connect(port, timeout) as s:
        s.sendall(request_bytes(method, path, data, headers))
        r = Response(s, timeout)
        return r.status, r.headers, r.body()


def open_execute(port, body, timeout):
    s = connect(port, timeout)
    s.sendall(request_bytes("POST", "/execute", json.dumps(body).encode(), {"Content-Type": "application/json"}))
    return s, Response(s, timeout)


def close_hard(sock, reset):
    if reset:  # the peer sees RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# ---- the worker process -------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Worker:
    def __init__(self, args, log_path, timeout_sec, faults):
        self.port = free_port()
        cmd = [os.path.join(args.bin, "worker-orcd"), "--model", args.model, "--port", str(self.port),
               "--inference-timeout-sec", f"{timeout_sec:g}", "--log-format", "json"]
        cmd += ["--device", "cpu"] if args.device == "cpu" else ["--gpu-device", str(args.gpu_device)]
        if args.ctx_size:
            cmd += ["--ctx-size", str(args.ctx_size)]
        env = dict(os.environ)
        env.pop("ORCD_FAULT_INJECT", None)
        if faults:
            env["ORCD_FAULT_INJECT"] = faults
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + args.ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker-orcd exited with {self.proc.returncode} before ready; see {log_path}")
            if '"event":"ready"' in self.log_text():
                return
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError(f"worker-orcd not ready within {args.ready_timeout} s; see {log_path}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def event(self, name):
        """The first log event called name, as a dict ({} when absent)."""
        for line in self.log_text().splitlines():
            if f'"event":"{name}"' in line:
                return json.loads(line)
        return {}

    def rss_kb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def alive(self):
        return self.proc.poll() is None

    def shutdown(self, timeout=60):
        try:
            http(self.port, "POST", "/shutdown", timeout=10)
        except Exception:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.log_file.close()


# ---- jobs -------------------------------------------------------------------------


class Runner:
    """Runs one job of a kind and says whether its outcome was expected."""

    def __init__(self, port, plan, fault_codes):
        self.port = port
        self.plan = plan
        self.fault_codes = fault_codes  # codes injected faults may produce
        self.rng = random.Random(12345)
        self.main_job_running = threading.Event()
        self.cancel_failures = []

    def stream(self, kind, body, leave_after=None, cancel_after=None, reset=False, main=True):
        """One /execute. Returns a record dict. main: the soak's own job
        (the pressure client sends its requests while one runs)."""
        t0 = time.time()
        rec = {"t": t0, "kind": kind, "status": 0, "terminal": "", "code": "", "stop_reason": "",
               "tokens_out": 0, "tokens_per_sec": "", "seconds": 0.0}
        sock, r = open_execute(self.port, body, timeout=max(30.0, 4 * self.plan["timeout_sec"]))
        try:
            rec["status"] = r.status
            if r.status != 200:
                doc = json.loads(r.body() or b"{}")
                rec["code"] = doc.get("code", "")
                errs = doc.get("errors") or [{}]
                rec["terminal"] = errs[0].get("constraint", "")
                return rec
            if main:
                self.main_job_running.set()
            canceller = None
            if cancel_after is not None:
                canceller = threading.Timer(cancel_after, self.cancel, (body["job_id"],))
                canceller.start()
            n = 0
            for ev, data in r.events():
                n += 1
                if ev in ("end", "error"):
                    rec["terminal"] = ev
                    rec["code"] = data.get("code", "")
                    rec["stop_reason"] = data.get("stop_reason", "")
                    rec["tokens_out"] = data.get("tokens_out", 0)
                    rec["tokens_per_sec"] = data.get("tokens_per_sec", "")
                if leave_after is not None and n >= leave_after:
                    rec["terminal"] = "left"
                    close_hard(sock, reset)
                    sock = None
                    break
            if canceller:
                canceller.join()
            return rec
        finally:
            if main:
                self.main_job_running.clear()
            rec["seconds"] = round(time.time() - t0, 4)
            if sock:
                sock.close()

    def cancel(self, job_id):
        try:
            status, _, _ = http(self.port, "POST", "/cancel", {"job_id": job_id}, timeout=10)
            if status != 202:
                self.cancel_failures.append(f"/cancel answered {status}")
        except Exception as e:
            self.cancel_failures.append(f"/cancel failed: {e!r}")

    def job_id(self, kind):
        return f"soak-{kind}-{self.rng.getrandbits(40):x}"

    def run(self, kind):
        p, rng = self.plan, self.rng
        body = {"job_id": self.job_id(kind), "prompt": rng.choice(PROMPTS)}
        if kind == "greedy":
            body.update(max_tokens=rng.randint(8, p["normal_max_tokens"]), temperature=0, seed=rng.getrandbits(32))
            return self.stream(kind, body)
        if kind == "sampled":
            body.update(max_tokens=rng.randint(8, p["normal_max_tokens"]), temperature=rng.uniform(0.6, 1.3),
                        top_p=rng.choice([1.0, 0.95, 0.8]), top_k=rng.choice([0, 20, 40]),
                        min_p=rng.choice([0, 0.05]), repetition_penalty=rng.choice([1.0, 1.1]),
                        seed=rng.getrandbits(63))
            return self.stream(kind, body)
        if kind == "stop":
            body.update(max_tokens=p["normal_max_tokens"], temperature=0.9, seed=rng.getrandbits(32),
                        stop=rng.choice(STOPS))
            return self.stream(kind, body)
        if kind == "probe":
            body.update(PROBE)
            return self.stream(kind, body)
        if kind == "cancel":
            body.update(max_tokens=p["cancel_max_tokens"], temperature=0.8, seed=rng.getrandbits(32))
            return self.stream(kind, body, cancel_after=rng.uniform(0.0, p["cancel_window_sec"]))
        if kind == "disconnect":
            body.update(max_tokens=p["cancel_max_tokens"], temperature=0.8)
            return self.stream(kind, body, leave_after=rng.randint(1, 5), reset=rng.random() < 0.5)
        if kind == "timeout":
            body.update(temperature=0.8, seed=rng.getrandbits(32))  # as many tokens as fit: past the deadline
            return self.stream(kind, body)
        if kind == "context_fill":
            body.update(prompt=p["fill_prompt"], temperature=0.8, seed=rng.getrandbits(32))
            return self.stream(kind, body)
        if kind == "context_overflow":
            body.update(prompt=p["fill_prompt"], max_tokens=p["overflow_max_tokens"])
            return self.stream(kind, body)
        raise ValueError(kind)

    def expected(self, rec):
        kind, status, term, code = rec["kind"], rec["status"], rec["terminal"], rec["code"]
        if code and code in self.fault_codes:
            return "injected"
        if status == 503 and code == "BUSY":
            return "busy"  # met the pressure client's job
        if kind == "context_overflow":
            return "ok" if status == 400 and term == "context" else None
        if status != 200:
            return None
        if kind == "disconnect":
            return "ok" if term in ("left", "end") else None
        if kind == "cancel":
            return "ok" if term == "end" or code == "CANCELLED" else None
        if kind == "timeout":
            if code == "INFERENCE_TIMEOUT":
                return "ok"
            # The model may end the job itself (end of generation) before the
            # deadline: right. Running to max_tokens within a deadline the
            # calibration said it cannot meet is not.
            if term == "end" and rec.get("stop_reason") == "eos":
                return "ok"
            return "ok" if term == "end" and not self.plan["timeouts_provokable"] else None
        return "ok" if term == "end" else None


# ---- calibration ------------------------------------------------------------------


def calibrate(args, out):
    """Measures the model on a worker without faults and a generous deadline:
    prompt sizes for the context jobs, job durations, and the inference
    timeout that normal jobs stay well under while a full-context job
    outlasts it."""
    w = Worker(args, os.path.join(out, "calibration.log"), 300, None)
    try:
        r = Runner(w.port, {"timeout_sec": 300}, set())
        _, _, health = http(w.port, "GET", "/health")
        ctx = json.loads(health)["context_length"]
        if not args.ctx_size and ctx > MAX_SOAK_CTX:
            # A context-fill prompt for a 32k context is longer than /execute
            # takes (32768 characters), and a job that fills it runs for
            # minutes: the soak is about a long run, not a long context.
            log(f"the model's context is {ctx}: the soak runs the worker with --ctx-size {MAX_SOAK_CTX}")
            args.ctx_size = MAX_SOAK_CTX
            w.shutdown()
            return calibrate(args, out)

        def prompt_tokens(prompt):
            sock, resp = open_execute(w.port, {"job_id": "cal", "prompt": prompt, "max_tokens": 1}, 60)
            with sock:
                for ev, data in resp.events():
                    if ev == "started":
                        return data["prompt_tokens"]
            raise RuntimeError("no started event in calibration")

        p1, p9 = prompt_tokens(FILL_SENTENCE), prompt_tokens(FILL_SENTENCE * 9)
        per = (p9 - p1) / 8
        reps = max(1, int((ctx - 24 - (p1 - per)) // per))
        fill_prompt = FILL_SENTENCE * reps
        fill_tokens = prompt_tokens(fill_prompt)
        while fill_tokens > ctx - 8 and reps > 1:
            reps -= 1
            fill_prompt = FILL_SENTENCE * reps
            fill_tokens = prompt_tokens(fill_prompt)

        plan = {"timeout_sec": 300, "normal_max_tokens": args.max_tokens, "fill_prompt": fill_prompt}
        r.plan = plan
        rates, durations = [], []
        for _ in range(3):
            rec = r.stream("probe", dict(PROBE, job_id="cal-probe"))
            rates.append(float(rec["tokens_per_sec"] or 0))
            durations.append(rec["seconds"])
        for _ in range(2):
            durations.append(r.stream("greedy", {"job_id": "cal-g", "prompt": PROMPTS[0],
                                                 "max_tokens": args.max_tokens, "temperature": 0})["seconds"])
            # A stop job that meets none of its stops: sampling from the whole
            # vocabulary (no top-k/top-p) is slower per token than greedy.
            durations.append(r.stream("stop", {"job_id": "cal-s", "prompt": PROMPTS[0], "max_tokens": args.max_tokens,
                                               "temperature": 0.9, "seed": 1})["seconds"])
            durations.append(r.stream("context_fill", {"job_id": "cal-f", "prompt": fill_prompt,
                                                       "temperature": 0})["seconds"])
        # The timeout job: a short prompt and as many tokens as fit (attention
        # over a growing context makes it slower than the probe's rate says).
        full = r.stream("timeout", {"job_id": "cal-t", "prompt": PROMPTS[0], "temperature": 0})
        full_seconds, full_tokens = full["seconds"], max(1, full["tokens_out"])
        longest = max(durations)
        # Every other job must stay under half the deadline; the timeout job
        # must take at least twice as long as the deadline.
        lo = max(0.05, round(2 * longest + 0.05, 2))
        if args.inference_timeout_sec:
            timeout = args.inference_timeout_sec
        elif full_seconds > 2 * lo:
            timeout = lo
        else:
            timeout = max(lo, round(2 * full_seconds + 0.05, 2))  # no job reaches it
        plan.update(
            ctx=ctx, fill_prompt_tokens=fill_tokens, overflow_max_tokens=ctx - fill_tokens + 16,
            probe_tokens_per_sec=statistics.median(rates), longest_other_job_sec=longest, timeout_sec=timeout,
            full_generation_sec=full_seconds, full_generation_tokens=full_tokens,
            timeouts_provokable=full_seconds > 2 * timeout,
            # A cancel job runs for about half the deadline at the slowest rate.
            cancel_max_tokens=max(8, min(full_tokens - 16, int(full_tokens / full_seconds * timeout * 0.5))),
            cancel_window_sec=timeout * 0.4)
        return plan
    finally:
        w.shutdown()


# ---- sampling --------------------------------------------------------------------


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def gpu_name(args):
    if args.device != "cuda" or not shutil.which("nvidia-smi"):
        return ""
    try:
        res = subprocess.run(["nvidia-smi", f"--id={args.gpu_device}", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
        return res.stdout.strip()
    except Exception:
        return ""


def nvidia_smi_used_mib(gpu):
    if not shutil.which("nvidia-smi"):
        return ""
    try:
        res = subprocess.run(["nvidia-smi", f"--id={gpu}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
        return int(res.stdout.strip().splitlines()[0])
    except Exception:
        return ""


SAMPLE_FIELDS = ["t_s", "phase", "rss_kb", "vram_tracked_bytes", "device_free_bytes", "device_total_bytes",
                 "device_used_bytes", "nvidia_smi_used_mib", "health_status", "health_ms", "jobs", "tokens_generated",
                 "requests_completed", "requests_cancelled", "requests_client_gone", "requests_inference_timeout",
                 "requests_busy", "requests_invalid", "requests_internal", "requests_cuda_error", "requests_vram_oom"]


def take_sample(w, args, t_start, warmup_s, jobs_done):
    row = {"t_s": round(time.time() - t_start, 1)}
    row["phase"] = "warmup" if row["t_s"] < warmup_s else "soak"
    row["rss_kb"] = w.rss_kb()
    h0 = time.time()
    status, _, body = http(w.port, "GET", "/health", timeout=10)
    row["health_ms"] = round((time.time() - h0) * 1000, 3)
    health = json.loads(body) if status == 200 else {}
    row["health_status"] = health.get("status", f"http {status}")
    row["vram_tracked_bytes"] = health.get("vram_bytes_used", "")
    _, _, mtext = http(w.port, "GET", "/metrics", timeout=10)
    m = parse_metrics(mtext.decode())
    free, total = m.get("worker_device_memory_free_bytes"), m.get("worker_device_memory_total_bytes")
    row["device_free_bytes"] = int(free) if free is not None else ""
    row["device_total_bytes"] = int(total) if total is not None else ""
    row["device_used_bytes"] = int(total - free) if free is not None and total is not None else ""
    row["nvidia_smi_used_mib"] = nvidia_smi_used_mib(args.gpu_device) if args.device == "cuda" else ""
    row["jobs"] = jobs_done
    row["tokens_generated"] = int(m.get("worker_tokens_generated_total", 0))
    for key, outcome in [("completed", "completed"), ("cancelled", "cancelled"), ("client_gone", "client_gone"),
                         ("inference_timeout", "inference_timeout"), ("busy", "busy"), ("invalid", "invalid_request"),
                         ("internal", "internal"), ("cuda_error", "cuda_error"), ("vram_oom", "vram_oom")]:
        row[f"requests_{key}"] = int(m.get(f'worker_requests_total{{outcome="{outcome}"}}', 0))
    return row


def codes_of_faults(faults):
    """The error codes the injected faults of an ORCD_FAULT_INJECT spec may end a job with."""
    codes = set()
    if faults:
        if "kernel_launch" in faults:
            codes.add("CUDA_ERROR")
        if "alloc" in faults:
            codes.add("VRAM_OOM")
        if "tokenizer" in faults:
            codes.add("INTERNAL")
    return codes


# ---- the soak ----------------------------------------------------------------------

MIX = [("greedy", 22), ("sampled", 22), ("stop", 10), ("cancel", 10), ("disconnect", 10), ("timeout", 6),
       ("context_fill", 8), ("context_overflow", 6)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", choices=["cpu", "cuda"], required=True)
    ap.add_argument("--gpu-device", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--duration-min", type=float, default=20)
    ap.add_argument("--warmup-min", type=float, default=None)
    ap.add_argument("--sample-sec", type=float, default=10)
    ap.add_argument("--ctx-size", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=128, help="largest max_tokens of a normal job")
    ap.add_argument("--max-tokens-out", type=int, default=2048)
    ap.add_argument("--inference-timeout-sec", type=float, default=0, help="0: calibrated")
    ap.add_argument("--faults", default="auto")
    ap.add_argument("--probe-every-sec", type=float, default=5)
    ap.add_argument("--rss-limit-mb", type=float, default=10)
    ap.add_argument("--throughput-tolerance", type=float, default=0.05)
    ap.add_argument("--ready-timeout", type=float, default=900)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    duration_s = args.duration_min * 60
    warmup_s = (args.warmup_min if args.warmup_min is not None else min(2.0, args.duration_min / 4)) * 60

    log(f"calibrating on {args.device} with {args.model}")
    plan = calibrate(args, args.out)
    log("plan: " + json.dumps({k: v for k, v in plan.items() if k != "fill_prompt"}))

    # Faults: only where the build has the hook (its startup line says so).
    faults = None
    if args.faults not in ("none", ""):
        faults = args.faults
        if faults == "auto":
            faults = ("kernel_launch@every400000,job_alloc@every25" if args.device == "cuda" else "tokenizer@every97")
    w = Worker(args, os.path.join(args.out, "worker.log"), plan["timeout_sec"], faults)
    has_hook = bool(w.event("startup").get("fault_injection"))
    if faults and not has_hook:
        log(f"this build has no fault-injection hook (a release build): running without '{faults}'")
        faults = None
    fault_codes = codes_of_faults(faults)
    log(f"worker pid {w.proc.pid} on port {w.port}; faults: {faults or 'none'}; "
        f"inference timeout {plan['timeout_sec']} s; {args.duration_min} min, warm-up {warmup_s / 60:.1f} min")

    runner = Runner(w.port, plan, fault_codes)
    records, unexpected, samples = [], [], []
    lock = threading.Lock()
    stop = threading.Event()
    failures = []  # things that end the soak early or fail it outright
    t_start = time.time()

    def note_unexpected(what):
        with lock:
            if len(unexpected) < 200:
                unexpected.append(what)

    def sampler():
        next_t = t_start
        while not stop.is_set():
            try:
                if not w.alive():
                    failures.append(f"the worker exited with {w.proc.returncode} at {time.time() - t_start:.0f} s")
                    stop.set()
                    return
                with lock:
                    n = len(records)
                row = take_sample(w, args, t_start, warmup_s, n)
                samples.append(row)
                if row["health_status"] != "healthy":
                    note_unexpected({"t": row["t_s"], "what": f"/health said {row['health_status']}"})
                log(f"t={row['t_s']:.0f}s rss={row['rss_kb']} kB vram={row['vram_tracked_bytes']} "
                    f"dev_used={row['device_used_bytes']} jobs={n} health={row['health_ms']} ms")
            except Exception as e:  # a missed sample is itself a finding
                note_unexpected({"t": round(time.time() - t_start, 1), "what": f"sampling failed: {e!r}"})
            next_t += args.sample_sec
            stop.wait(max(0.0, next_t - time.time()))

    def pressure():
        # A second client that asks for a job while one runs: 503 BUSY.
        while not stop.is_set():
            if not runner.main_job_running.wait(0.5):
                continue
            try:
                rec = runner.stream("pressure", {"job_id": f"soak-pressure-{random.getrandbits(32):x}",
                                                 "prompt": PROMPTS[0], "max_tokens": 8}, main=False)
                rec["t_s"] = round(rec["t"] - t_start, 2)
                rec["verdict"] = "busy" if rec["status"] == 503 else "ok"
                ok = (rec["status"] == 503 and rec["code"] == "BUSY") or rec["terminal"] == "end" or \
                    (rec["code"] in fault_codes)
                with lock:
                    records.append(rec)
                if not ok:
                    note_unexpected(dict(rec, what="pressure"))
            except Exception as e:
                note_unexpected({"t": round(time.time() - t_start, 1), "what": f"pressure request failed: {e!r}"})
            stop.wait(random.uniform(1.0, 3.0))

    def health_poller():
        while not stop.is_set():
            try:
                status, _, body = http(w.port, "GET", "/health", timeout=10)
                if status != 200:
                    note_unexpected({"t": round(time.time() - t_start, 1), "what": f"/health answered {status}"})
            except Exception as e:
                note_unexpected({"t": round(time.time() - t_start, 1), "what": f"/health failed: {e!r}"})
            stop.wait(1.0)

    threads = [threading.Thread(target=f, daemon=True) for f in (sampler, pressure, health_poller)]
    for t in threads:
        t.start()

    kinds = [k for k, _ in MIX]
    weights = [wgt for _, wgt in MIX]
    next_probe = t_start
    try:
        while time.time() - t_start < duration_s and not stop.is_set():
            kind = "probe" if time.time() >= next_probe else runner.rng.choices(kinds, weights)[0]
            if kind == "probe":
                next_probe += args.probe_every_sec
            try:
                rec = runner.run(kind)
            except Exception as e:
                rec = {"t": time.time(), "kind": kind, "status": 0, "terminal": "", "code": f"client error: {e!r}",
                       "stop_reason": "", "tokens_out": 0, "tokens_per_sec": "", "seconds": 0}
            rec["t_s"] = round(rec["t"] - t_start, 2)
            verdict = runner.expected(rec)
            rec["verdict"] = verdict or "UNEXPECTED"
            with lock:
                records.append(rec)
            if verdict is None:
                note_unexpected(dict(rec))
            if verdict == "busy":
                time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    for f in runner.cancel_failures:
        note_unexpected({"what": f})
    rss_end = w.rss_kb()
    final = take_sample(w, args, t_start, warmup_s, len(records)) if w.alive() else None
    if final:
        final["phase"] = "end"
        samples.append(final)
    exit_code = w.shutdown() if w.alive() else w.proc.returncode
    if exit_code != 0:
        failures.append(f"the worker's exit code after /shutdown was {exit_code}")

    summary = summarize(args, plan, faults, has_hook, samples, records, unexpected, failures, warmup_s, duration_s,
                        rss_end)
    write_outputs(args.out, samples, records, summary)
    plot_soak(args.out)
    return 0 if summary["verdict"] == "PASS" else 1


def probe_rates(records, lo_s, hi_s):
    """Decode tokens/s of the probe jobs that started in [lo_s, hi_s)."""
    return [float(r["tokens_per_sec"]) for r in records
            if r["kind"] == "probe" and r.get("terminal") == "end" and r["tokens_per_sec"] != ""
            and lo_s <= r["t_s"] < hi_s]


def window_medians(records, t0_s, t1_s, window_s):
    """Median probe rate of each window from t0_s on, for the record."""
    out, k = {}, 0
    while t0_s + k * window_s < t1_s:
        rates = probe_rates(records, t0_s + k * window_s, t0_s + (k + 1) * window_s)
        if rates:
            out[k] = statistics.median(rates)
        k += 1
    return out


def summarize(args, plan, faults, has_hook, samples, records, unexpected, failures, warmup_s, duration_s, rss_end):
    post = [s for s in samples if s["phase"] != "warmup" and s.get("rss_kb")]
    criteria = []

    def crit(name, ok, detail):
        criteria.append({"criterion": name, "result": "pass" if ok is True else ("FAIL" if ok is False else ok),
                         "detail": detail})

    if len(post) >= 2:
        growth_mb = (post[-1]["rss_kb"] - post[0]["rss_kb"]) / 1024
        crit(f"RSS growth after warm-up < {args.rss_limit_mb:g} MB", growth_mb < args.rss_limit_mb,
             f"{post[0]['rss_kb']} kB at {post[0]['t_s']} s -> {post[-1]['rss_kb']} kB at {post[-1]['t_s']} s "
             f"({growth_mb:+.2f} MB; max {max(s['rss_kb'] for s in post)} kB)")
        vram = [s["vram_tracked_bytes"] for s in post if s["vram_tracked_bytes"] != ""]
        crit("tracked device bytes (/health vram_bytes_used) unchanged", len(set(vram)) == 1,
             f"min {min(vram)} max {max(vram)} over {len(vram)} samples" if vram else "no readings")
        used = [s["device_used_bytes"] for s in post if s["device_used_bytes"] != ""]
        if used:
            crit("device memory in use (cudaMemGetInfo total - free) unchanged", used[-1] == used[0],
                 f"{used[0]} -> {used[-1]} bytes (min {min(used)}, max {max(used)})")
        else:
            crit("device memory in use (cudaMemGetInfo total - free) unchanged", "n/a",
                 "no device memory gauges (CPU backend)")
    else:
        crit("samples after warm-up", False, f"only {len(post)} samples after warm-up")

    crit("no unexpected answers or error codes", not unexpected, f"{len(unexpected)} unexpected")
    crit("the worker stayed up, healthy, and exited 0 on /shutdown", not failures, "; ".join(failures) or "yes")

    # The first minute after the warm-up against the run's last minute; a run
    # shorter than two minutes after its warm-up compares its halves.
    window_s = min(60.0, (duration_s - warmup_s) / 2)
    unit = "minute" if window_s == 60 else f"{window_s:.0f} s"
    medians = window_medians(records, warmup_s, duration_s, window_s)
    first_rates = probe_rates(records, warmup_s, warmup_s + window_s)
    last_rates = probe_rates(records, duration_s - window_s, duration_s + 1)
    if first_rates and last_rates:
        first, last = statistics.median(first_rates), statistics.median(last_rates)
        change = (last - first) / first if first else float("inf")
        crit(f"probe throughput: last {unit} within {args.throughput_tolerance:.0%} of the first after warm-up",
             abs(change) <= args.throughput_tolerance,
             f"first {unit} {first:.1f} tok/s ({len(first_rates)} probes), last {unit} {last:.1f} tok/s "
             f"({len(last_rates)} probes): {change:+.1%}")
    else:
        crit("probe throughput: last window within tolerance of the first", False,
             f"no probes in the first or the last {unit}")

    counts = {}
    for r in records:
        key = f"{r['kind']}:{r.get('verdict', '')}:{r['code'] or r['terminal'] or r['status']}"
        counts[key] = counts.get(key, 0) + 1
    exercised = {k: sum(1 for r in records if r["kind"] == k) for k, _ in MIX + [("probe", 0), ("pressure", 0)]}
    timeouts_seen = sum(1 for r in records if r["code"] == "INFERENCE_TIMEOUT")
    if timeouts_seen or plan["timeouts_provokable"]:
        crit("inference timeouts provoked", timeouts_seen > 0, f"{timeouts_seen} INFERENCE_TIMEOUT")
    else:
        crit("inference timeouts provoked", "skipped",
             f"a full-context generation takes {plan['full_generation_sec']} s, not twice the {plan['timeout_sec']} s "
             f"deadline, which the other jobs (up to {plan['longest_other_job_sec']} s) need: on this device "
             "prefill is as slow as decode")
    injected = sum(1 for r in records if r.get("verdict") == "injected")
    if faults:
        crit("injected faults met and survived", injected > 0, f"{injected} jobs ended by '{faults}'")
    else:
        crit("injected faults met and survived", "skipped",
             "no fault-injection hook in this build" if not has_hook else "faults turned off (--faults none)")

    failed = any(c["result"] == "FAIL" for c in criteria)
    return {
        "verdict": "FAIL" if failed else "PASS",
        "command": os.environ.get("SOAK_COMMAND", " ".join(sys.argv)), "gpu": gpu_name(args),
        "device": args.device, "gpu_device": args.gpu_device, "model": args.model,
        "duration_min": args.duration_min, "warmup_min": warmup_s / 60, "faults": faults,
        "plan": {k: v for k, v in plan.items() if k != "fill_prompt"},
        "criteria": criteria, "jobs": len(records), "exercised": exercised, "outcomes": counts,
        "probe_window_sec": window_s, "probe_tokens_per_sec_by_window": medians, "unexpected": unexpected[:50], "rss_end_kb": rss_end,
    }


def write_outputs(out, samples, records, summary):
    with open(os.path.join(out, "samples.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=SAMPLE_FIELDS)
        wr.writeheader()
        for s in samples:
            wr.writerow(s)
    fields = ["t_s", "kind", "verdict", "status", "terminal", "code", "stop_reason", "tokens_out", "tokens_per_sec",
              "seconds"]
    with open(os.path.join(out, "jobs.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        wr.writeheader()
        for r in records:
            wr.writerow(r)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, default=str)
    lines = [f"soak {summary['verdict']}: {summary['device']} {summary['gpu']} {summary['model']}, "
             f"{summary['duration_min']} min (warm-up {summary['warmup_min']:.1f} min), "
             f"faults {summary['faults'] or 'none'}, {summary['jobs']} jobs",
             f"command: {summary['command']}", "", "| criterion | result | detail |", "| --- | --- | --- |"]
    for c in summary["criteria"]:
        lines.append(f"| {c['criterion']} | {c['result']} | {c['detail']} |")
    lines += ["", "jobs by kind: " + ", ".join(f"{k} {v}" for k, v in summary["exercised"].items()),
              "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())),
              f"probe decode tok/s by {summary['probe_window_sec']:.0f} s window after warm-up: " +
              ", ".join(f"{m}: {v:.1f}" for m, v in summary["probe_tokens_per_sec_by_window"].items())]
    if summary["unexpected"]:
        lines += ["", "unexpected (first ones):"] + [f"  {json.dumps(u, default=str)}" for u in summary["unexpected"][:10]]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text)
    print(text, flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        log(str(e))
        sys.exit(2)
