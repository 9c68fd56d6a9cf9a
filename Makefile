# Two commands do everything on a fresh Debian machine:
#   make demo   set up, then show what uring does (probe, PI sidecars, bench)
#   make test   set up, then run every test on Deno and on Bun
#   make test-vm  the suite in emulated machines (PI devices, older kernels):
#               URING_VM_RUNNER=../shared/vm/run-guest.sh make test-vm
.PHONY: setup demo test test-vm bench check

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

test-vm:
	@bash scripts/test_vm.sh

bench: setup
	@bash bench/run.sh

check: setup
	@node_modules/.bin/deno check mod.ts cli.ts ffi/ structs/ sys/ ring/ pi/ cli/ tests/ bench/ examples/
	@node_modules/.bin/deno lint
	@node_modules/.bin/deno fmt --check
