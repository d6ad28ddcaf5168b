"""The Debian package (SPEC §9): `cpack -G DEB` builds it from the build folder, it holds the
files at their contract paths, installs with dpkg (service account, folders, conffile, an
enabled but not started unit that systemd-analyze accepts) and purges back to the machine as it
was, bpffs's mode included.

Installing needs root (dpkg -i); skipped otherwise, and under CI (CI=true) that skip is a
failure. systemd is not PID 1 on this machine, so the service is never started here:
test_nspawn_service.py installs the package in a booted Debian 12 container and runs it there.

The build folder: $VEIL_BUILD_DIR, else the one $VEILD_BIN was built in (ctest sets it), else
build/. veild and veilctl must be built there.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, veild_bin

EXPECTED_FILES = [
    "/usr/sbin/veild",
    "/usr/bin/veilctl",
    "/lib/systemd/system/veil.service",
    "/usr/lib/sysusers.d/veil.conf",
    "/usr/lib/tmpfiles.d/veil.conf",
    "/etc/veil/veil.yaml",
    "/usr/share/doc/veil/examples/veil.yaml",
]
ENABLED_LINK = Path("/etc/systemd/system/multi-user.target.wants/veil.service")
# What the package or its scripts may create, and the test removes if it was not there before
# (postrm keeps state and logs on purge by design).
CREATED_PATHS = [Path("/var/lib/veil"), Path("/var/log/veil"), Path("/etc/veil")]


def _need_root():
    if os.geteuid() == 0:
        return
    message = "installing a .deb needs root (dpkg -i)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; under CI this test must run", pytrace=False)
    pytest.skip(message)


def _build_dir() -> Path:
    if os.environ.get("VEIL_BUILD_DIR"):
        return Path(os.environ["VEIL_BUILD_DIR"]).resolve()
    return veild_bin().resolve().parents[1]  # <build>/agent/veild


def run(*argv, check=True, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited with {r.returncode}:\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


def _package_installed() -> bool:
    r = run("dpkg-query", "-W", "-f=${Status}", "veil", check=False)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def _account_state():
    user = group = None
    with contextlib.suppress(KeyError):
        user = pwd.getpwnam("veil")
    with contextlib.suppress(KeyError):
        group = grp.getgrnam("veil")
    return user, group


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    build = _build_dir()
    config = build / "CPackConfig.cmake"
    for needed in (config, build / "agent" / "veild", build / "tools" / "veilctl" / "veilctl"):
        if not needed.exists():
            message = f"{needed} does not exist: configure and build veild and veilctl in {build}"
            if os.environ.get("CI") == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
    out = tmp_path_factory.mktemp("deb")
    run("cpack", "-G", "DEB", "--config", config, "-B", out, cwd=build)
    debs = sorted(out.glob("veil_*.deb"))
    assert len(debs) == 1, f"cpack made {debs}"
    return debs[0]


def test_package_holds_the_contract_paths(deb):
    listing = run("dpkg-deb", "-c", deb).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    paths = {p.split(" -> ")[0] for p in paths}
    for f in EXPECTED_FILES:
        assert f in paths, f"{f} missing from the package:\n{listing}"
    # Nothing of a developer's build leaks in: no tests, no static libraries, no headers.
    assert not [p for p in paths if p.endswith((".a", ".h")) or "_test" in p], listing

    fields = run("dpkg-deb", "-f", deb, "Package", "Depends", "Architecture").stdout
    assert "Package: veil" in fields
    depends = fields.split("Depends:", 1)[1].split("\n")[0]
    # From dpkg-shlibdeps: the libraries veild and veilctl link.
    for lib in ("libc6", "libssl3", "systemd"):
        assert lib in depends, depends

    ctrl = Path(str(deb) + ".control")
    run("dpkg-deb", "-e", deb, ctrl)
    assert (ctrl / "conffiles").read_text().split() == ["/etc/veil/veil.yaml"]
    for script in ("postinst", "prerm", "postrm"):
        assert (ctrl / script).stat().st_mode & 0o777 == 0o755, script


def test_install_verify_and_purge_leave_the_machine_as_it_was(deb):
    _need_root()
    if _package_installed():
        pytest.skip("a veil package is already installed here; not replacing it")
    user_before, group_before = _account_state()
    existed = {p: p.exists() for p in CREATED_PATHS}
    bpffs_root = Path("/sys/fs/bpf")
    bpffs_mode = stat.S_IMODE(bpffs_root.stat().st_mode) if bpffs_root.exists() else None
    if Path("/sys/fs/bpf/veil").exists():
        pytest.skip("/sys/fs/bpf/veil exists here: purging veil would remove that redirect")
    assert not ENABLED_LINK.exists(), "veil.service is enabled before the test installs it"

    try:
        run("dpkg", "-i", deb)

        # The installed unit, as systemd would load it (User=veil now exists).
        r = run("systemd-analyze", "verify", "/lib/systemd/system/veil.service", check=False)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr

        user, group = _account_state()
        assert user is not None and group is not None
        assert user.pw_gid == group.gr_gid
        assert user.pw_shell == "/usr/sbin/nologin"

        conf = Path("/etc/veil/veil.yaml")
        assert conf.read_text() == (REPO_ROOT / "config/examples/veil.yaml").read_text()
        st = Path("/etc/veil").stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, group.gr_gid, 0o750)
        for folder, mode in (("/var/lib/veil", 0o750), ("/var/lib/veil/keys", 0o700),
                             ("/var/log/veil", 0o750)):
            st = Path(folder).stat()
            assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (user.pw_uid, mode), folder
        # bpffs is left as systemd mounted it: the unit prepares /sys/fs/bpf/veil when it
        # starts (test_nspawn_service.py), the package changes nothing there.
        if bpffs_mode is not None:
            assert stat.S_IMODE(bpffs_root.stat().st_mode) == bpffs_mode
        assert not Path("/sys/fs/bpf/veil").exists()

        # Enabled (for the next boot), not started: there is no systemd to start it here, and
        # postinst must not have tried.
        assert ENABLED_LINK.is_symlink()
        assert os.readlink(ENABLED_LINK) == "/lib/systemd/system/veil.service"

        # The packaged binary runs with the libraries Depends brought, on the conffile.
        r = run("/usr/sbin/veild", "--check-config", "/etc/veil/veil.yaml", check=False)
        assert r.returncode == 0, r.stderr
        assert run("/usr/bin/veilctl", "--help", check=False).returncode == 0
    finally:
        purge = run("dpkg", "--purge", "veil", check=False)
        for p, was in existed.items():
            if not was and p.exists():
                shutil.rmtree(p, ignore_errors=True)
        _restore_account(user_before, group_before)

    assert purge.returncode == 0, purge.stderr
    assert not _package_installed()
    for f in EXPECTED_FILES:
        assert not Path(f).exists(), f"{f} left after purge"
    assert not ENABLED_LINK.exists() and not ENABLED_LINK.is_symlink()
    assert not Path("/etc/systemd/system/veil.service").is_symlink()  # no mask left behind
    assert _account_state() == (user_before, group_before)
    if bpffs_mode is not None:
        assert stat.S_IMODE(bpffs_root.stat().st_mode) == bpffs_mode


def _restore_account(user_before, group_before) -> None:
    """Debian keeps system accounts on purge; the test removes the ones it made. A group veil
    that existed before (other tests make one with members) is put back exactly."""
    user_now, _ = _account_state()
    if user_before is None and user_now is not None:
        run("userdel", "veil", check=False)
    _, group_now = _account_state()
    if group_before is None and group_now is not None:
        run("groupdel", "veil", check=False)
    elif group_before is not None and group_now is None:
        run("groupadd", "--system", "-g", group_before.gr_gid, "veil")
        for member in group_before.gr_mem:
            run("gpasswd", "-a", member, "veil", check=False)
