# dualstackd - see README.md. `make` builds, `make test` runs unit + integration tests.
CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
OPT     ?= -O2 -g
# librdkafka: the one tests/deps.sh builds (deploy/librdkafka.sh), linked statically
RDKAFKA_PREFIX ?= $(CURDIR)/build/librdkafka
# (make before 4.4 does not pass exported variables to $(shell), so it is given each time)
PKG_CONFIG := PKG_CONFIG_PATH=$(RDKAFKA_PREFIX)/lib/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH)) \
	pkg-config
PKGS    := rdkafka-static libcurl libcrypto libcjson expat yaml-0.1 libmicrohttpd
# pkg-config runs when a compile first needs it, not when make reads this file: `make demo` and
# `make test` install the -dev packages first (`deps`) and then build in a second make.
pkg_check = $(if $(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && echo ok),,$(error missing \
	build dependencies ($(shell $(PKG_CONFIG) --print-errors --exists $(PKGS) 2>&1 | head -1)): \
	run `make deps`, or `make demo` / `make test`, which install them))
PKG_CFLAGS = $(eval PKG_CFLAGS := $(pkg_check)$(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags $(PKGS))))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(pkg_check)$(shell $(PKG_CONFIG) --libs --static rdkafka-static) \
	$(shell $(PKG_CONFIG) --libs $(filter-out rdkafka-static,$(PKGS))) -lev -lm -lpthread)$(PKG_LIBS)
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(PKG_CFLAGS)
BUILD   ?= build/rel

CORE_SRC := $(wildcard reconcile/*.c handlers/*.c)
CTRL_SRC := $(filter-out controller/main.c,$(wildcard controller/*.c))
LIB_SRC  := $(CORE_SRC) $(CTRL_SRC)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(wildcard tests/bench/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all deps test unit integration asan lint fuzz fuzz-long bench demo clean format valgrind \
	test-scale install uninstall deb FORCE

# the binary and the test tools (built here so they never rot between benchmark runs)
all: dualstackd $(BUILD)/unit $(BUILD)/ec2_load $(BUILD)/bench $(BUILD)/ingest

dualstackd: $(BUILD)/dualstackd
	cp $< $@.tmp && mv -f $@.tmp $@

# --version: VERSION and the commit built from, in a header rewritten only when they change
VERSION := $(shell cat VERSION)
GIT_COMMIT ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	{ git diff --quiet HEAD -- 2>/dev/null && echo $$c || echo $$c+dirty; } || echo unknown)
$(BUILD)/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define DS_VERSION "%s"\n#define DS_COMMIT "%s"\n' '$(VERSION)' '$(GIT_COMMIT)' \
		> $@.tmp; cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(BUILD)/controller/main.o: $(BUILD)/version.h
$(BUILD)/controller/main.o: CFLAGS += -I$(BUILD)
FORCE:

$(BUILD)/dualstackd: $(BUILD)/controller/main.o $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: %.c $(wildcard */*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC $<"; $(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/unit: $(UNIT_OBJ) $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Installs apt packages, the pinned moto and the Kafka jars (idempotent, cached).
deps:
	bash tests/deps.sh

unit: $(BUILD)/unit
	$(BUILD)/unit

$(BUILD)/ec2_load: $(BUILD)/tests/tools/ec2_load.o $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The integration tests mostly wait on services: several run at once (each worker has its own
# moto servers and Kafka broker).
PYTEST_WORKERS ?= 3
integration: dualstackd $(BUILD)/ec2_load
	python3 -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) tests/py $(PYTEST_ARGS)

test: deps
	$(MAKE) unit
	$(MAKE) valgrind
	$(MAKE) integration

# Fleet-scale runs (1,000 VPCs, rebalance storms): minutes each, so not in `make test`.
test-scale: deps
	$(MAKE) dualstackd
	python3 -m pytest -q -s -p no:cacheprovider tests/scale $(PYTEST_ARGS)

valgrind: $(BUILD)/unit
	valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
		$(BUILD)/unit

asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" build/asan/unit build/asan/dualstackd
	build/asan/unit
	DS_BINARY=$(CURDIR)/build/asan/dualstackd python3 -m pytest -q -p no:cacheprovider \
		-n $(PYTEST_WORKERS) tests/py/test_reconcile.py tests/py/test_describe.py tests/py/test_daemon.py \
		tests/py/test_guard.py \
		-k "idempotent or dry_run or step6 or between or matches_boto3 or wrong_secret or assume or converge_a_new or poison or sigterm or reloads or no_capacity or slow_credentials or halt_file" 

lint:
	bash tests/lint.sh

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c tests/*/*.h)

# libFuzzer targets: a short pass (CI) or FUZZ_RUNS=1000000 for the long one.
FUZZ_RUNS ?= 20000
FUZZ_TARGETS := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=fuzzer,address,undefined" $(FUZZ_TARGETS)
	bash tests/fuzz/run.sh $(FUZZ_RUNS)

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The container image (deploy/Containerfile), built rootless-capable with buildah from a Debian
# base made by mmdebstrap (no registry needed), then run: --version and a non-root user.
image: deps
	bash tests/image.sh

bench: dualstackd
	$(MAKE) OPT="-O2 -g" build/rel/bench build/rel/ingest
	bash tests/bench/run.sh

$(BUILD)/ingest: $(BUILD)/tests/bench/ingest.o $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench: $(BUILD)/tests/bench/bench.o $(LIB_OBJ)
	@echo "  LD $@"; $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

demo: deps
	$(MAKE) dualstackd
	python3 tests/demo.py

# ---- install, as a daemon is installed ----
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
# the binary, the man page, the systemd unit (pointing at where they went) and an example
# config and policy - an existing file under $(SYSCONFDIR)/dualstackd is never replaced
install: dualstackd
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/dualstackd
	install -m 0755 dualstackd $(DESTDIR)$(BINDIR)/dualstackd
	install -m 0644 docs/man/man1/dualstackd.1 $(DESTDIR)$(MANDIR)/man1/dualstackd.1
	sed -e 's|/usr/local/bin/dualstackd|$(BINDIR)/dualstackd|g' \
		-e 's|/etc/dualstackd|$(SYSCONFDIR)/dualstackd|g' deploy/systemd/dualstackd.service \
		> $(DESTDIR)$(UNITDIR)/dualstackd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/dualstackd.service
	@for f in config.yaml:0640 policy.yaml:0644; do \
		name=$${f%%:*}; mode=$${f##*:}; to=$(DESTDIR)$(SYSCONFDIR)/dualstackd/$$name; \
		if [ -e "$$to" ]; then echo "  kept $$to (it exists)"; else \
			sed 's|/etc/dualstackd|$(SYSCONFDIR)/dualstackd|g' deploy/examples/$$name > "$$to" \
			&& chmod $$mode "$$to" && echo "  installed $$to"; fi; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dualstackd $(DESTDIR)$(MANDIR)/man1/dualstackd.1 \
		$(DESTDIR)$(UNITDIR)/dualstackd.service
	@echo "  left $(DESTDIR)$(SYSCONFDIR)/dualstackd: the configuration is the operator's"

# A Debian package with the same layout under /usr: a system user, the unit enabled but not
# started, the config and policy as conffiles; dependencies from dpkg-shlibdeps.
DEB_ARCH = $(shell dpkg --print-architecture)
DEB      = build/dualstackd_$(VERSION)_$(DEB_ARCH).deb
deb: dualstackd
	rm -rf build/deb
	mkdir -p build/deb/root/DEBIAN build/deb/shlibs/debian
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/build/deb/root PREFIX=/usr \
		SYSCONFDIR=/etc UNITDIR=/lib/systemd/system
	gzip -9n build/deb/root/usr/share/man/man1/dualstackd.1
	install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm \
		build/deb/root/DEBIAN/
	printf '/etc/dualstackd/config.yaml\n/etc/dualstackd/policy.yaml\n' \
		> build/deb/root/DEBIAN/conffiles
	echo "Source: dualstackd" > build/deb/shlibs/debian/control
	cd build/deb/shlibs && dpkg-shlibdeps -O ../root/usr/bin/dualstackd \
		| sed -n 's/^shlibs:Depends=//p' > ../depends
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
		-e "s|@DEPENDS@|$$(cat build/deb/depends)|" deploy/debian/control.in \
		> build/deb/root/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build build/deb/root $(DEB)
	@echo "  built $(DEB)"

clean:
	rm -rf build/rel build/asan build/fuzz build/deb dualstackd
