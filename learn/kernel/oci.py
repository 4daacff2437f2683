"""Learning a container's profile in a real OCI runtime.

runc installs the bundle's seccomp filter itself, then makes a few syscalls of its own
before it execs the container's process; those belong in the container's profile, and no
list of them is hard-coded here. So learn copies the bundle's config with
`linux.seccomp` set to a LOG default for the host's ABIs (plus the base profile allowed),
and lets the runtime run it: every record of the container's audit session is then exactly
what the profile must allow, runc's last steps included.

One thing a single run cannot show: runc's init is a Go program, and Go's runtime wakes
threads (futex) and preempts goroutines with a signal (whose handler returns through
rt_sigreturn) at moments no run controls. Measured here: 2 of 27 runs made futex, 5 made
rt_sigreturn, and a profile without them killed runc init in up to 4% of starts. They are
the runtime's, not runc's steps, so they are added with a note rather than learned.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator

from learn.arch import host_abis, oci_arch
from learn.argrules import CLONE3, ENOSYS
from learn.errors import InputError
from learn.profile import Profile

GO_RUNTIME_ASYNC = ("futex", "rt_sigreturn")


@contextlib.contextmanager
def learning_bundle(bundle: str, base: Profile, *, args: bool = False) -> Iterator[str]:
    """A temporary bundle: the same rootfs and process, with a LOG seccomp default.

    args (--args): clone3 gets ENOSYS, as under the learned profile, so libc's fallback clone
    and its flags are what gets learned (learn.kernel.clone3)."""
    config_path = os.path.join(bundle, "config.json")
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (OSError, ValueError) as err:
        raise InputError(f"{config_path}: not an OCI bundle config ({err})", "runc spec makes one") from None
    root = config.setdefault("root", {})
    root["path"] = os.path.abspath(os.path.join(bundle, root.get("path", "rootfs")))
    seccomp: dict[str, object] = {"defaultAction": "SCMP_ACT_LOG", "architectures": [oci_arch(a) for a in host_abis()]}
    rules: list[dict[str, object]] = []
    if base.names():
        rules.append({"names": list(base.names()), "action": "SCMP_ACT_ALLOW"})
    if args:
        rules.append({"names": [CLONE3], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    if rules:
        seccomp["syscalls"] = rules
    config.setdefault("linux", {})["seccomp"] = seccomp
    with tempfile.TemporaryDirectory(prefix="learn-bundle-") as tmp:
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        yield tmp
