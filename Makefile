# Two commands do everything on a fresh Debian machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
LEARN  := $(VENV)/bin/learn
DEMO   := sample-logs/auditd/ls-la.audit.log

.PHONY: setup demo test lint bench clean
setup: $(VENV)/.installed

# python3-audit is built for Debian's Python, so the venv is made from /usr/bin/python3
# and sees the system site-packages (auparse) beside what pip installs.
$(VENV)/.installed: pyproject.toml scripts/system-deps
	scripts/system-deps
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

demo: setup
	$(LEARN) suggest $(DEMO)
	$(LEARN) report $(DEMO) -o demo-report.html
	@echo "open it in a browser: file://$(CURDIR)/demo-report.html"

test: setup
	$(PY) -m ruff check . bench/parse bench/filter-cost bench/learn-overhead bench/fleet
	$(PY) -m mypy
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/parse
	$(PY) bench/filter-cost
	$(PY) bench/learn-overhead
	$(PY) bench/fleet

clean:
	rm -rf $(VENV) build *.egg-info
