#!/usr/bin/env python3
"""Berth side by side with CNCF distribution (Debian's docker-registry) and nginx (sendfile), as ratios.

Every server gets the same bytes: the same image is pushed to Berth and to distribution, and nginx serves
Berth's own blob files and the same manifest bytes as static files under the same URLs. Each figure is
measured for every server in the same run, round by round with the order rotated, and the median is kept.
Load comes from wrk (GETs and HEADs) and from this script (pushes and whole-image pulls, whose cost is
checked against nginx). Started by bench/run; see the README's "Benchmarks".
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PORTS = {"berth": 5701, "distribution": 5702, "nginx": 5703, "mirror": 5704, "berth-cluster": 5705, "s3": 5706,
         "postgres": 5707}
MB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


WARM_PULLS = 30  # cold 1 MB pulls through a fresh mirror before its measured cold pull


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data

def random_file(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 16 * MB)
            f.write(os.urandom(n))
            left -= n


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MB):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class Image:
    """A config and layers on disk, and the manifest that lists them."""

    def __init__(self, work, name, layer_sizes):
        self.blobs = []  # (digest, size, path)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                             "config": {"Labels": {"bench": name}}}).encode()
        config_path = os.path.join(work, f"{name}-config.json")
        with open(config_path, "wb") as f:
            f.write(config)
        self.config = ("sha256:" + hashlib.sha256(config).hexdigest(), len(config), config_path)
        for i, size in enumerate(layer_sizes):
            path = os.path.join(work, f"{name}-layer{i}-{size}.bin")
            random_file(path, size)
            self.blobs.append((sha256_file(path), size, path))
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.config[0],
                       "size": self.config[1]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
                       for d, s, _ in self.blobs]}, separators=(",", ":")).encode()
        self.digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()


# ---------------------------------------------------------------- an HTTP client for pushes and pulls

class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def request(self, method, path, body=None, headers=None, expect=(200, 201, 202, 204), sink=False):
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        if sink:
            buf = bytearray(4 * MB)
            view = memoryview(buf)
            n = 0
            while (k := r.readinto(view)) > 0:
                n += k
            data = n
        else:
            data = r.read()
        if r.status not in expect:
            raise RuntimeError(f"{method} {path} on :{self.port} answered {r.status}: {str(data)[:300]}")
        return r, data

    def upload_location(self, repo):
        r, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"}, expect=(202,))
        loc = r.getheader("Location")
        u = urllib.parse.urlsplit(loc)
        return u.path + ("?" + u.query if u.query else "")

    def push_blob(self, repo, data, digest, chunk=None):
        loc = self.upload_location(repo)
        if chunk:
            offset = 0
            while offset < len(data):
                part = data[offset:offset + chunk]
                r, _ = self.request("PATCH", loc, body=part, headers={
                    "Content-Type": "application/octet-stream", "Content-Length": str(len(part)),
                    "Content-Range": f"{offset}-{offset + len(part) - 1}"}, expect=(202,))
                u = urllib.parse.urlsplit(r.getheader("Location"))
                loc = u.path + ("?" + u.query if u.query else "")
                offset += len(part)
            data = b""
        sep = "&" if "?" in loc else "?"
        self.request("PUT", f"{loc}{sep}digest={digest}", body=data,
                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
                     expect=(201,))

    def push_file(self, repo, digest, path):
        r = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", expect=(200, 404))[0]
        if r.status == 200:
            return
        loc = self.upload_location(repo)
        sep = "&" if "?" in loc else "?"
        with open(path, "rb") as f:
            self.request("PUT", f"{loc}{sep}digest={digest}", body=f,
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(os.path.getsize(path))}, expect=(201,))

    def push_image(self, repo, image, tags):
        for digest, _, path in [image.config] + image.blobs:
            self.push_file(repo, digest, path)
        for tag in tags:
            self.request("PUT", f"/v2/{repo}/manifests/{tag}", body=image.manifest,
                         headers={"Content-Type": OCI_MANIFEST}, expect=(201,))

    def pull_image(self, repo, tag):
        accept = {"Accept": OCI_MANIFEST}
        self.request("HEAD", f"/v2/{repo}/manifests/{tag}", headers=accept)
        _, body = self.request("GET", f"/v2/{repo}/manifests/{tag}", headers=accept)
        m = json.loads(body)
        total = len(body)
        for d in [m["config"]] + m["layers"]:
            _, n = self.request("GET", f"/v2/{repo}/blobs/{d['digest']}", sink=True)
            total += n
        return total

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------- servers

class Server:
    def __init__(self, name, args, port, work, env=None):
        self.name, self.port = name, port
        self.out = open(os.path.join(work, f"{name}.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.wait_ready()
        self.peak = 0

    def wait_ready(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see its log in the work dir")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/v2/")
                c.getresponse().read()
                c.close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer on :{self.port}")

    def pids(self):
        """The server's processes (nginx has workers), for RSS."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [self.proc.pid] + [int(p) for p in out.stdout.split()]

    def rss(self):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()


class RssSampler:
    """Samples servers' RSS while a workload runs."""

    def __init__(self, servers):
        self.servers, self.peaks, self.stop_flag = servers, {s.name: 0 for s in servers}, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_flag.wait(0.1):
            for s in self.servers:
                self.peaks[s.name] = max(self.peaks[s.name], s.rss())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join()


def berth_config(path, data, port, extra=None, storage=None):
    config = {"storage": {"rootDirectory": data, "gc": False, **(storage or {})},
              "http": {"address": "127.0.0.1", "port": str(port)},
              "log": {"level": "warn"}}
    if extra:
        config["extensions"] = extra
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def start_berth(work, name, data, port, extra=None, storage=None):
    config = berth_config(os.path.join(work, f"{name}.json"), data, port, extra, storage)
    return Server(name, [os.path.join(ROOT, "bin", "berth"), "serve", "--config", config], port, work)


class ClusterStores:
    """For --cluster: Debian's PostgreSQL (durable, as in production) and bin/dev-s3, both on loopback."""

    def __init__(self, work):
        versions = sorted(d for d in os.listdir("/usr/lib/postgresql") if d.isdigit())
        self.bin = f"/usr/lib/postgresql/{versions[-1]}/bin"
        self.dir = os.path.join(work, "postgres")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        data = os.path.join(self.dir, "data")
        self.pg([f"{self.bin}/initdb", "-D", data, "-U", "berth", "-A", "trust", "-E", "UTF8"])
        self.pg([f"{self.bin}/pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                 f"-p {PORTS['postgres']} -k {self.dir} -c listen_addresses=127.0.0.1", "start"])
        self.pg([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(PORTS["postgres"]), "-U", "berth", "berth"])
        s3data = os.path.join(work, "s3-data")
        shutil.rmtree(s3data, ignore_errors=True)
        self.s3 = Server("s3", [os.path.join(ROOT, "bin", "dev-s3"), s3data, str(PORTS["s3"])], PORTS["s3"], work)
        self.storage = {
            "database": {"url": f"jdbc:postgresql://127.0.0.1:{PORTS['postgres']}/berth", "user": "berth"},
            "storageDriver": {"name": "s3", "regionendpoint": f"http://127.0.0.1:{PORTS['s3']}", "bucket": "berth",
                              "rootdirectory": "/bench", "forcepathstyle": True, "accesskey": "berth-dev",
                              "secretkey": "berth-dev-secret"}}

    def pg(self, args):
        subprocess.run(self.as_postgres + args, check=True, capture_output=True)

    def stop(self):
        self.s3.stop()
        self.pg([f"{self.bin}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "stop"])


def start_distribution(work):
    data = os.path.join(work, "distribution-data")
    path = os.path.join(work, "distribution.yml")
    with open(path, "w") as f:
        f.write(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{PORTS['distribution']}
""")
    return Server("distribution", ["docker-registry", "serve", path], PORTS["distribution"], work)


def start_nginx(work, berth_data):
    """nginx answering the registry's URLs from Berth's own blob files and static manifest files."""
    conf = os.path.join(work, "nginx.conf")
    static = os.path.join(work, "static")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {work}/nginx-tmp;
  proxy_temp_path {work}/nginx-tmp;
  fastcgi_temp_path {work}/nginx-tmp;
  uwsgi_temp_path {work}/nginx-tmp;
  scgi_temp_path {work}/nginx-tmp;
  server {{
    listen 127.0.0.1:{PORTS['nginx']};
    location = /v2/ {{ return 200 '{{}}'; }}
    location ~ "^/v2/.+/blobs/sha256:(?<hex>(?<p>[0-9a-f]{{2}})[0-9a-f]{{62}})$" {{
      default_type application/octet-stream;
      alias {berth_data}/blobs/sha256/$p/$hex;
    }}
    location ~ "^/v2/(?<repo>.+)/manifests/(?<ref>[^/]+)$" {{
      default_type {OCI_MANIFEST};
      alias {static}/$repo/manifests/$ref;
    }}
  }}
}}
""")
    os.makedirs(os.path.join(work, "nginx-tmp"), exist_ok=True)
    return Server("nginx", ["nginx", "-c", conf, "-p", work], PORTS["nginx"], work)


def write_static_manifest(work, repo, image, tags):
    d = os.path.join(work, "static", repo, "manifests")
    os.makedirs(d, exist_ok=True)
    for ref in list(tags) + [image.digest]:
        with open(os.path.join(d, ref), "wb") as f:
            f.write(image.manifest)


# ---------------------------------------------------------------- wrk

WRK_LINE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$")


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def to_bytes(text):
    m = re.match(r"([\d.]+)([KMGT]?B)", text)
    return float(m.group(1)) * {"B": 1, "KB": 1024, "MB": MB, "GB": 1024 * MB, "TB": MB * MB}[m.group(2)]


def wrk(port, path, conc, seconds, method="GET", headers=()):
    if method == "HEAD":
        return hey(port, path, conc, seconds, method, headers)
    args = ["wrk", "-t", str(min(conc, 2)), "-c", str(conc), "-d", f"{seconds}s", "--latency", "--timeout", "30s"]
    for h in headers:
        args += ["-H", h]
    args.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        m = WRK_LINE.match(line)
        if m:
            result["p" + m.group(1)] = to_ms(m.group(2), m.group(3))
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(line.split()[1])
        elif line.startswith("Transfer/sec:"):
            result["mbps"] = to_bytes(line.split()[1]) / MB
        elif "Non-2xx or 3xx responses" in line or "Socket errors" in line:
            result["errors"] = line.strip()
    if "errors" in result:
        raise RuntimeError(f"wrk against :{port}{path}: {result['errors']}")
    return result


def hey(port, path, conc, seconds, method, headers=()):
    """HEAD requests: wrk waits for a body after a HEAD's Content-Length, so hey sends them (slower than wrk)."""
    args = ["hey", "-z", f"{seconds}s", "-c", str(conc), "-m", method]
    for h in headers:
        args += ["-H", h]
    args.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(line.split()[1])
        elif re.match(r"^(50|99)% in ", line):
            result["p" + line.split("%")[0]] = float(line.split()[2]) * 1000
        elif re.match(r"^\[(\d+)\]", line) and not line.startswith("[200]"):
            raise RuntimeError(f"hey against :{port}{path}: {line}")
    return result


# ---------------------------------------------------------------- the run

class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.rows = []  # {workload, metric, unit, better, values{server: x}}
        self.servers = {}
        self.rotation = 0

    def record(self, workload, metric, unit, better, values):
        row = {"workload": workload, "metric": metric, "unit": unit, "better": better, "values": values}
        self.rows.append(row)
        shown = ", ".join(f"{k} {fmt(v)}" for k, v in values.items())
        log(f"  {workload:<38} {metric:<10} {shown}")

    def order(self, names):
        """The servers in a rotated order, so that no server always runs first (or last)."""
        self.rotation += 1
        k = self.rotation % len(names)
        return names[k:] + names[:k]

    def alternate(self, names, measure):
        """Runs measure(name) for every server, round after round, and keeps each metric's median."""
        samples = {n: [] for n in names}
        for _ in range(self.args.rounds):
            for n in self.order(list(names)):
                samples[n].append(measure(n))
        merged = {}
        for n, runs in samples.items():
            merged[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        return merged

    def run(self):
        a = self.args
        os.makedirs(self.work, exist_ok=True)
        log(f"preparing random data in {self.work} ...")
        sizes = [1 * MB, 100 * MB] + ([] if a.quick else [1024 * MB])
        blobs_image = Image(self.work, "blobs", sizes)
        full = Image(self.work, "full", [5 * MB] * 5)
        small = Image(self.work, "small", [1024])
        berth_data = os.path.join(self.work, "berth-data")
        cluster_data = os.path.join(self.work, "berth-cluster-spool")
        for d in (berth_data, cluster_data, os.path.join(self.work, "distribution-data"),
                  os.path.join(self.work, "static")):
            shutil.rmtree(d, ignore_errors=True)
        stores = None
        try:
            self.servers["berth"] = start_berth(self.work, "berth", berth_data, PORTS["berth"])
            self.servers["distribution"] = start_distribution(self.work)
            self.servers["nginx"] = start_nginx(self.work, berth_data)
            if a.cluster:
                stores = ClusterStores(self.work)
                self.servers["berth-cluster"] = start_berth(self.work, "berth-cluster", cluster_data,
                                                            PORTS["berth-cluster"], storage=stores.storage)
            cluster = ["berth-cluster"] if a.cluster else []
            time.sleep(2)
            idle = self.servers["berth"].rss()
            log(f"berth idle RSS after start: {idle / MB:.0f} MB")
            log("pushing the same images to berth and distribution ...")
            for name in ["berth", "distribution"] + cluster:
                c = Client(PORTS[name])
                c.push_image("bench/blobs", blobs_image, ["v1"])
                c.push_image("bench/full", full, ["v1"])
                tags = [f"t{i:04d}" for i in range(a.tags)]
                c.push_image("bench/small", small, tags)
                for i in range(a.repos):
                    c.push_image(f"bench/repo{i:03d}", small, ["v1"])
                c.close()
            write_static_manifest(self.work, "bench/blobs", blobs_image, ["v1"])
            write_static_manifest(self.work, "bench/full", full, ["v1"])
            self.bytes_check(blobs_image, full)
            all3 = ["berth", "distribution", "nginx"] + cluster
            self.blob_gets(all3, blobs_image, sizes)
            self.manifest_requests(all3)
            self.listings(cluster)
            self.full_pulls(all3)
            self.pushes(cluster)
            time.sleep(2)
            self.record("idle RSS (MB)", "rss", "MB", "lower",
                        {"berth": idle / MB, "berth after load": self.servers["berth"].rss() / MB})
            if not a.cluster:  # the pull-through rows compare with the upstream, not between stores
                if a.quick:
                    self.pull_through(64 * MB, 64 * MB)
                else:
                    self.pull_through(1024 * MB, 256 * MB)
        finally:
            for s in self.servers.values():
                s.stop()
            if stores:
                stores.stop()
        self.report()

    def bytes_check(self, blobs_image, full):
        """Every server must answer the very same bytes, or the comparison means nothing."""
        for digest, size, _ in blobs_image.blobs[:1] + full.blobs[:1]:
            repo = "bench/blobs" if size != 5 * MB else "bench/full"
            for name in self.servers:
                if name not in PORTS or name == "s3":
                    continue
                c = Client(PORTS[name])
                _, body = c.request("GET", f"/v2/{repo}/blobs/{digest}")
                c.close()
                if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
                    raise RuntimeError(f"{name} served other bytes for {digest}")

    def blob_gets(self, names, image, sizes):
        plan = {1 * MB: [1, 16, 64], 100 * MB: [1, 16], 1024 * MB: [1, 16]}
        for digest, size, _ in image.blobs:
            for conc in plan[size] if not self.args.quick else [1, 16]:
                label = f"blob GET {size // MB} MB c={conc}"
                with RssSampler([self.servers[n] for n in names]) as rss:
                    results = self.alternate(names, lambda n: wrk(
                        PORTS[n], f"/v2/bench/blobs/blobs/{digest}", conc, self.args.seconds))
                self.record(label, "MB/s", "MB/s", "higher", {n: results[n]["mbps"] for n in names})
                self.record(label, "peak RSS", "MB", "lower", {n: rss.peaks[n] / MB for n in names})

    def manifest_requests(self, names):
        accept = [f"Accept: {OCI_MANIFEST}"]
        for method in ("GET", "HEAD"):
            for conc in [1, 16, 64]:
                label = f"manifest {method} by tag c={conc}" + (" (hey)" if method == "HEAD" else "")
                results = self.alternate(names, lambda n: wrk(
                    PORTS[n], "/v2/bench/blobs/manifests/v1", conc, self.args.seconds, method, accept))
                self.record(label, "req/s", "req/s", "higher", {n: results[n]["rps"] for n in names})
                self.record(label, "p50 ms", "ms", "lower", {n: results[n]["p50"] for n in names})
                self.record(label, "p99 ms", "ms", "lower", {n: results[n]["p99"] for n in names})

    def listings(self, cluster):
        names = ["berth", "distribution"] + cluster
        for label, path in (("catalog (n=100)", "/v2/_catalog?n=100"),
                            (f"tags list ({self.args.tags} tags)", "/v2/bench/small/tags/list")):
            results = self.alternate(names, lambda n: wrk(PORTS[n], path, 16, self.args.seconds))
            self.record(label + " c=16", "req/s", "req/s", "higher", {n: results[n]["rps"] for n in names})
            self.record(label + " c=16", "p99 ms", "ms", "lower", {n: results[n]["p99"] for n in names})

    def full_pulls(self, names):
        for conc in [1, 8]:
            def measure(n):
                clients = [Client(PORTS[n]) for _ in range(conc)]
                stop = time.time() + self.args.seconds
                counts = [0] * conc
                total = [0] * conc

                def loop(i):
                    while time.time() < stop:
                        total[i] += clients[i].pull_image("bench/full", "v1")
                        counts[i] += 1
                start = time.time()
                with concurrent.futures.ThreadPoolExecutor(conc) as pool:
                    list(pool.map(loop, range(conc)))
                elapsed = time.time() - start
                for c in clients:
                    c.close()
                return {"ips": sum(counts) / elapsed, "mbps": sum(total) / elapsed / MB}
            results = self.alternate(names, measure)
            label = f"full image pull (5x5 MB) c={conc}"
            self.record(label, "pulls/s", "pulls/s", "higher", {n: results[n]["ips"] for n in names})

    def pushes(self, cluster):
        """Pushes of new blobs; the machine's own hash+write+sync of the same bytes runs in the same rotation.

        The bar keeps every file it writes until the pushes are over, as the servers keep every blob: on this VM
        a page cache that grows into memory the guest has not touched yet writes several times slower than one
        that reuses freed pages, and a bar that deleted its files would measure the faster case only."""
        bar = "hash+write+sync"
        names = ["berth", "distribution"] + cluster + [bar]
        bar_dir = os.path.join(self.work, "bar")
        shutil.rmtree(bar_dir, ignore_errors=True)
        os.makedirs(bar_dir)
        written = [0]
        try:
            for size, conc, chunk in ((1 * MB, 1, None), (1 * MB, 16, None), (100 * MB, 1, None),
                                      (1 * MB, 1, 256 * 1024), (100 * MB, 1, 10 * MB)):
                count = max(2, min(64, (200 * MB) // size)) if conc == 1 else 128
                if self.args.quick:
                    count = max(2, count // 4)

                def measure(n):
                    datas = []
                    base = bytearray(os.urandom(size))
                    for i in range(count):
                        base[:8] = os.urandom(8)  # every push is new content
                        b = bytes(base)
                        datas.append((b, "sha256:" + hashlib.sha256(b).hexdigest()))
                    if n == bar:
                        return {"mbps": self.hash_write_sync(bar_dir, written, [b for b, _ in datas])}

                    def worker(j):  # one connection per worker, pushing every conc-th blob
                        c = Client(PORTS[n])
                        for i in range(j, count, conc):
                            c.push_blob(f"bench/push{j}", datas[i][0], datas[i][1], chunk)
                        c.close()
                    start = time.time()
                    with concurrent.futures.ThreadPoolExecutor(conc) as pool:
                        list(pool.map(worker, range(conc)))
                    elapsed = time.time() - start
                    return {"mbps": size * count / elapsed / MB}
                results = self.alternate(names, measure)
                kind = "chunked" if chunk else "monolithic"
                self.record(f"{kind} push {size // MB} MB c={conc}", "MB/s", "MB/s", "higher",
                            {n: results[n]["mbps"] for n in names})
        finally:
            shutil.rmtree(bar_dir, ignore_errors=True)

    @staticmethod
    def hash_write_sync(directory, written, blobs):
        """What this machine does with the same bytes, one blob after another, each to a new file that stays.
        From 64 MB up: `tee` to the file feeding `openssl dgst -sha256`, then `sync` of the file. Smaller blobs
        are written, hashed (OpenSSL's SHA-256, through hashlib) and fsynced in process, since three processes
        started per megabyte would measure process start-up rather than the disk."""
        elapsed = 0.0
        for data in blobs:
            written[0] += 1
            out = os.path.join(directory, f"{written[0]}.bin")
            if len(data) >= 64 * MB:
                src = os.path.join(directory, "source")
                with open(src, "wb") as f:
                    f.write(data)
                start = time.time()
                subprocess.run(f"tee {out} < {src} | openssl dgst -sha256 > /dev/null && sync {out}", shell=True,
                               check=True)
                elapsed += time.time() - start
                os.remove(src)
            else:
                start = time.time()
                with open(out, "wb") as f:
                    f.write(data)
                    hashlib.sha256(data).hexdigest()
                    f.flush()
                    os.fsync(f.fileno())
                elapsed += time.time() - start
        return sum(len(b) for b in blobs) / elapsed / MB

    def pull_through(self, big, shared_size):
        """A cold blob through a fresh Berth mirroring distribution, against the same GET straight from it."""
        log("pull-through: a fresh mirror per round ...")
        upstream = self.servers["distribution"]
        blob = Image(self.work, "cold", [big, shared_size])
        c = Client(upstream.port)
        c.push_image("bench/cold", blob, ["v1"])
        c.close()
        (big_digest, _, _), (shared_digest, _, _) = blob.blobs
        # Blobs the mirror pulls through before the measured one, so that its code paths are compiled: a
        # registry that has been running has, and the row is about the cache's cost, not the JVM's start.
        warm = Image(self.work, "warm", [1 * MB] * WARM_PULLS)
        c = Client(upstream.port)
        c.push_image("bench/warm", warm, ["v1"])
        c.close()
        sync = {"sync": {"enable": True, "registries": [{"urls": [f"http://127.0.0.1:{upstream.port}"],
                                                          "onDemand": True, "tlsVerify": False,
                                                          "content": [{"prefix": "**", "destination": "/up"}]}]}}

        def curl(port, path):
            out = subprocess.run(["curl", "-sf", "-o", "/dev/null", "-w", "%{time_starttransfer} %{time_total}",
                                  f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True)
            first, total = out.stdout.split()
            return {"ttfb": float(first) * 1000, "total": float(total)}

        def measure(n):
            if n == "direct":
                return curl(upstream.port, f"/v2/bench/cold/blobs/{big_digest}")
            data = os.path.join(self.work, "mirror-data")
            shutil.rmtree(data, ignore_errors=True)
            mirror = start_berth(self.work, "mirror", data, PORTS["mirror"], sync)
            try:
                # A cold cache, not a cold JVM: other cold blobs through the mirror first, then the measured blob,
                # which is not cached.
                for digest, _, _ in warm.blobs:
                    curl(PORTS["mirror"], f"/v2/up/bench/warm/blobs/{digest}")
                return curl(PORTS["mirror"], f"/v2/up/bench/cold/blobs/{big_digest}")
            finally:
                mirror.stop()
        results = self.alternate(["berth", "direct"], measure)
        label = f"cold pull-through {big // MB} MB"
        self.record(label, "TTFB ms", "ms", "lower", {"berth": results["berth"]["ttfb"],
                                                      "direct from upstream": results["direct"]["ttfb"]})
        self.record(label, "total s", "s", "lower", {"berth": results["berth"]["total"],
                                                     "direct from upstream": results["direct"]["total"]})

        data = os.path.join(self.work, "mirror-data")
        shutil.rmtree(data, ignore_errors=True)
        mirror = start_berth(self.work, "mirror", data, PORTS["mirror"], sync)
        try:
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                runs = list(pool.map(lambda _: curl(PORTS["mirror"], f"/v2/up/bench/cold/blobs/{shared_digest}"),
                                     range(20)))
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{PORTS['mirror']}/metrics").read().decode()
        finally:
            mirror.stop()
        upstream_gets = sum(float(line.split()[-1]) for line in metrics.splitlines()
                            if line.startswith("berth_upstream_requests_total") and 'method="GET"' in line)
        fetched = sum(float(line.split()[-1]) for line in metrics.splitlines()
                      if line.startswith("berth_upstream_bytes_total"))
        label = f"20 clients, one cold {shared_size // MB} MB blob"
        self.record(label, "upstream GETs", "", "lower", {"berth": upstream_gets})
        self.record(label, "fetched MB", "MB", "lower", {"berth": fetched / MB, "one copy": shared_size / MB})
        self.record(label, "max total s", "s", "lower", {"berth": max(r["total"] for r in runs)})

    def report(self):
        others = ["distribution", "nginx", "hash+write+sync", "direct from upstream", "berth-cluster"]
        lines = [f"Berth benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}, "
                 f"{os.cpu_count()} CPUs, {'quick' if self.args.quick else 'full'} run, {self.args.rounds} rounds "
                 f"of {self.args.seconds}s (medians)", ""]
        header = ["workload", "metric", "berth"] + others + [f"berth/{o.split()[0]}" for o in others]
        table = []
        for row in self.rows:
            v = row["values"]
            cells = [row["workload"], row["metric"], fmt(v.get("berth"))]
            cells += [fmt(v.get(o)) for o in others]
            ratios = []
            for o in others:
                if o in v and v.get("berth") and v[o]:
                    ratios.append(f"{v['berth'] / v[o]:.2f}x")
                else:
                    ratios.append("")
            extra = [f"{k} {fmt(x)}" for k, x in v.items() if k not in others and k != "berth"]
            table.append(cells + ratios + ["; ".join(extra)])
        header.append("")
        keep = [i for i in range(len(header)) if i < 3 or any(r[i] for r in table)]
        widths = [max(len(str(r[i])) for r in table + [header]) for i in keep]
        for r in [header] + table:
            lines.append("  ".join(str(r[i]).ljust(w) for i, w in zip(keep, widths)).rstrip())
        lines.append("")
        lines.append("Ratios are berth / other: above 1 is better for MB/s, req/s and pulls/s; below 1 is better "
                     "for ms, s and MB of memory.")
        text = "\n".join(lines)
        print(text)
        out = os.path.join(self.work, "results.json")
        with open(out, "w") as f:
            json.dump({"when": datetime.datetime.now().isoformat(), "quick": self.args.quick,
                       "rounds": self.args.rounds, "seconds": self.args.seconds, "rows": self.rows}, f, indent=1)
        with open(os.path.join(self.work, "results.txt"), "w") as f:
            f.write(text + "\n")
        print(f"\nmachine-readable: {out}")


def fmt(x):
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.0f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"
    return str(x)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a short pass: no 1 GB blob, 1 round of 2 s")
    p.add_argument("--rounds", type=int, help="rounds per figure (default 3, quick 1)")
    p.add_argument("--seconds", type=int, help="seconds per wrk run (default 3, quick 2)")
    p.add_argument("--work", default=os.environ.get("BENCH_WORK", "/tmp/berth-bench"),
                   help="scratch directory for data and server state (default /tmp/berth-bench)")
    p.add_argument("--tags", type=int, default=1000, help="tags in the tags-list repository (default 1000)")
    p.add_argument("--repos", type=int, default=100, help="extra repositories for the catalog (default 100)")
    p.add_argument("--cluster", action="store_true",
                   help="also a Berth cluster node (PostgreSQL + S3 via bin/dev-s3) beside the embedded one; "
                        "no pull-through rows")
    a = p.parse_args()
    a.rounds = a.rounds or (1 if a.quick else 3)
    a.seconds = a.seconds or (2 if a.quick else 3)
    Bench(a).run()


if __name__ == "__main__":
    main()
