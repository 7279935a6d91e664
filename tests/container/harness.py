"""harness.py: podman, the base image and the tweetmatch image for the
container tests (cases.py), kept apart from the machine's own podman storage.

Everything podman does here lives under one cache folder (TM_CONTAINER_CACHE,
default ${XDG_CACHE_HOME:-~/.cache}/tweetmatch/container): its image store,
the base image's tarball and a containers.conf. The user's images are never
touched, and a local stand-in for debian:bookworm-slim never shadows a real
one in the user's store.

The base image. No image registry is reachable on our machines, so
debian:bookworm-slim is made locally the way Debian's official one is made:
mmdebstrap --variant=minbase with merged /usr, without documentation, man
pages and locales, then `podman import`. The tarball is kept in the cache
folder, one per ISO week (debian-bookworm-slim-2026-W48.tar), and the image
carries that week in a label: a week's runs share one base, and so reuse the
build cache. TM_CONTAINER_BASE_TAR names a tarball to import instead.

podman runs as this sandbox allows: `--isolation=chroot` for builds, the
`runc` runtime, `--network=host` (the fake stream server and moto listen on
the host's 127.0.0.1), and a containers.conf with `default_ulimits = []`
(raising an rlimit is refused here).

Without podman the cases skip (exit 77) with what to install, except under
CI=true, where a missing podman fails them: CI installs it (tests/run-all.sh).
"""
import datetime
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DOCKER = os.path.join(ROOT, "docker")
IMAGE = "localhost/tweetmatch:test"
BASE = "docker.io/library/debian:bookworm-slim"
BASE_LABEL = "org.tweetmatch.test.base-week"
SKIP = 77
INSTALL = "apt-get install podman runc mmdebstrap uidmap"


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Fail(what + "".join("\n    " + str(d)[:3000] for d in detail))


def eq(got, want, what):
    check(got == want, what, "expected: %r" % (want,), "actual:   %r" % (got,))


def log(msg):
    print(msg, flush=True)


def cache_dir():
    d = os.environ.get("TM_CONTAINER_CACHE")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "tweetmatch", "container")
    os.makedirs(d, exist_ok=True)
    return d


def week_key(today=None):
    y, w, _ = (today or datetime.date.today()).isocalendar()
    return "%d-W%02d" % (y, w)


class Podman:
    """podman with the store, configuration and flags of these tests."""

    def __init__(self):
        self.exe = shutil.which("podman")
        if self.exe is None:
            msg = "podman was not found: the container tests build and run the image with podman (%s)" % INSTALL
            if os.environ.get("CI") == "true":
                raise Fail(msg + "; CI must have it (tests/run-all.sh installs it)")
            raise Skip(msg)
        self.cache = cache_dir()
        self.root = os.path.join(self.cache, "storage")
        # Run-time state on a tmpfs when there is one (it must not outlive a
        # reboot): /run for root, XDG_RUNTIME_DIR for a user, else /tmp. The
        # store remembers it and refuses another, so the first choice is kept.
        uid = os.getuid()
        chosen = os.path.join(self.cache, "runroot")
        if os.path.exists(chosen):
            self.runroot = open(chosen).read().strip()
        else:
            bases = (["/run"] if uid == 0 else []) + [os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir()]
            base = next(b for b in bases if b and os.access(b, os.W_OK))
            self.runroot = os.path.join(base, "tweetmatch-podman-%d" % uid)
            with open(chosen, "w") as f:
                f.write(self.runroot + "\n")
        os.makedirs(self.runroot, exist_ok=True)
        self.conf = os.path.join(self.cache, "containers.conf")
        want = "# Written by tests/container/harness.py\n[containers]\ndefault_ulimits = []\n"
        if not os.path.exists(self.conf) or open(self.conf).read() != want:
            with open(self.conf, "w") as f:
                f.write(want)
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)
        self.base_args = [self.exe, "--root", self.root, "--runroot", os.path.join(self.runroot, "storage"),
                          "--tmpdir", os.path.join(self.runroot, "libpod")]
        runc = shutil.which("runc")
        if runc:
            self.base_args += ["--runtime", runc]
        # Without systemd, podman cannot schedule the periodic health check
        # (it logs an error at each start and stop); `podman healthcheck run`
        # works either way.
        self.no_timer = not os.path.exists("/run/systemd/private")

    def cmd(self, *args):
        return self.base_args + [str(a) for a in args]

    def run(self, *args, check_rc=True, timeout=600, input=None):
        r = subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True, timeout=timeout,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check_rc and r.returncode != 0:
            raise Fail("podman %s: exit %d\n%s%s" % (" ".join(map(str, args[:3])), r.returncode,
                                                      r.stdout[-3000:], r.stderr[-3000:]))
        return r

    def exists(self, image):
        return self.run("image", "exists", image, check_rc=False).returncode == 0

    def inspect(self, image):
        return json.loads(self.run("image", "inspect", image).stdout)[0]

    # -- the base image --

    def ensure_base(self):
        """debian:bookworm-slim in our store, made this ISO week (or taken
        from TM_CONTAINER_BASE_TAR). Returns a line saying what was done."""
        week = week_key()
        given = os.environ.get("TM_CONTAINER_BASE_TAR")
        if self.exists(BASE):
            labels = self.inspect(BASE).get("Labels") or {}
            if given or labels.get(BASE_LABEL) in (None, week):
                return "base image %s: present (%s)" % (BASE, labels.get(BASE_LABEL, "not made here"))
        tar = given or os.path.join(self.cache, "debian-bookworm-slim-%s.tar" % week)
        made = ""
        if not os.path.exists(tar):
            t0 = time.time()
            self.mmdebstrap(tar)
            made = ", made with mmdebstrap in %.0f s" % (time.time() - t0)
            for old in glob.glob(os.path.join(self.cache, "debian-bookworm-slim-*.tar")):
                if old != tar:
                    os.unlink(old)
        self.run("import", "--change", 'CMD ["bash"]', "--change", "LABEL %s=%s" % (BASE_LABEL, week), tar, BASE)
        return "base image %s: imported from %s%s" % (BASE, tar, made)

    def mmdebstrap(self, tar):
        exe = shutil.which("mmdebstrap")
        if exe is None:
            msg = "mmdebstrap was not found: it makes the debian:bookworm-slim base image (%s)" % INSTALL
            if os.environ.get("CI") == "true":
                raise Fail(msg)
            raise Skip(msg)
        # As Debian's official slim image: no docs, man pages or locales, now
        # and in what later apt-get installs; no package caches.
        excludes = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*",
                    "/usr/share/groff/*", "/usr/share/lintian/*", "/usr/share/linda/*"]
        args = [exe, "--variant=minbase", "--format=tar", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"]
        for e in excludes:
            args.append("--dpkgopt=path-exclude=" + e)
        args += ["--dpkgopt=path-include=/usr/share/doc/*/copyright",
                 "--dpkgopt=path-include=/usr/share/locale/locale.alias",
                 '--aptopt=Acquire::Languages "none"', '--aptopt=Acquire::GzipIndexes "true"',
                 '--aptopt=Dir::Cache::pkgcache ""', '--aptopt=Dir::Cache::srcpkgcache ""']
        tmp = tar + ".part"
        r = subprocess.run(args + ["bookworm", tmp], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=1500)
        if r.returncode != 0:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise Fail("mmdebstrap failed (exit %d)\n%s" % (r.returncode, r.stderr[-4000:]))
        os.rename(tmp, tar)

    # -- the tweetmatch image --

    def build(self):
        """Builds docker/Dockerfile, unchanged, from the repository root.
        Returns the build's output."""
        r = self.run("build", "--isolation=chroot", "--format", "docker", "--layers", "--pull=never",
                     "--ignorefile", os.path.join(DOCKER, "Dockerfile.dockerignore"),
                     "-f", os.path.join(DOCKER, "Dockerfile"), "-t", IMAGE, ROOT, check_rc=False, timeout=1500)
        out = r.stdout + r.stderr
        if r.returncode != 0:
            raise Fail("podman build -f docker/Dockerfile failed (exit %d); its last lines:\n%s"
                       % (r.returncode, out[-6000:]))
        # Old layers (earlier sources, an earlier week's base) go; the build
        # cache of the last three days stays. Only this store is touched.
        self.run("image", "prune", "-f", "--filter", "until=72h", check_rc=False)
        return out

    def require_image(self):
        if not self.exists(IMAGE):
            raise Fail("the image %s is missing: container.image builds it (it runs first)" % IMAGE)


def task_definition(name="task-definition.json"):
    with open(os.path.join(DOCKER, name), encoding="utf-8") as f:
        return json.load(f)


def fill(text, values):
    """The placeholders of docker/ (AWSACCOUNT, DEPLOYMENTREGION, arn-...)
    replaced, longest first, as the original example's sed lines do."""
    for k in sorted(values, key=len, reverse=True):
        text = text.replace(k, values[k])
    return text


def main(cases, argv):
    """`cases.py --list` prints "name<TAB>kind" lines; `cases.py NAME` runs
    one case: exit 0 passed, 1 failed, 77 skipped."""
    if len(argv) == 2 and argv[1] == "--list":
        for name, (kind, _) in cases.items():
            print("%s\t%s" % (name, kind))
        return 0
    if len(argv) != 2 or argv[1] not in cases:
        print("usage: cases.py --list | cases.py NAME (one of: %s)" % ", ".join(cases), file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        cases[argv[1]][1]()
    except Skip as e:
        print("SKIPPED: %s" % e, flush=True)
        return SKIP
    except Fail as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    log("passed in %.1f s" % (time.time() - t0))
    return 0
