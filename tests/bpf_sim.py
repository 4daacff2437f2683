"""The filter tests' name for learn's BPF interpreter (learn.bpf.interpret)."""

from learn.bpf.interpret import Verdict, decode, run, seccomp_data

__all__ = ["Verdict", "decode", "run", "seccomp_data"]
