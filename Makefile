# lanegate — build, test, run.  `make run` and `make test` are all a newcomer needs.
BUILD   ?= build
CC      ?= cc
PKGS     = libmicrohttpd gnutls jansson yaml-0.1
DEBS     = libmicrohttpd-dev libgnutls28-dev libjansson-dev libyaml-dev check pkg-config
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Iwebhook
LDFLAGS ?=
LDLIBS   = -lpthread
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
BUILD   := $(BUILD)-asan
endif

# pkg-config is queried lazily so that `make deps` can run before the packages exist.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

SRCS        := $(sort $(wildcard webhook/*.c))
OBJS        := $(SRCS:webhook/%.c=$(BUILD)/%.o)
LIB_OBJS    := $(filter-out $(BUILD)/main.o,$(OBJS))
TEST_SRCS   := $(sort $(wildcard tests/test_*.c))
TEST_BINS   := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
E2E_SCRIPTS := $(filter-out tests/e2e/%lib.sh,$(sort $(wildcard tests/e2e/*.sh)))
BIN         := $(BUILD)/lanegate

.PHONY: all deps test unit e2e asan run bench bench-engine bench-serve clean valgrind

all: $(BIN) lanegate

lanegate: $(BIN)
	cp $(BIN) lanegate

$(BUILD)/%.o: webhook/%.c webhook/*.h | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/*.h $(LIB_OBJS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS) $(LDLIBS)

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

# Installs the Debian packages that are missing (needs root or sudo).
deps:
	@if ! pkg-config --exists $(PKGS) check 2>/dev/null; then \
	  echo "installing missing packages: $(DEBS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS) || \
	  { $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS); }; \
	fi

# Every test: Check unit tests (each prints its summary line), then end-to-end scripts.
test: deps
	$(MAKE) --no-print-directory unit e2e

unit: $(BIN) $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

e2e: $(BIN)
	@set -e; for s in $(E2E_SCRIPTS); do echo "== $$s"; LANEGATE=$(CURDIR)/$(BIN) bash $$s; done

asan:
	$(MAKE) --no-print-directory test SANITIZE=1

valgrind: $(BIN) $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== valgrind $$t"; \
	  CK_FORK=no valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 $$t; done

# The webhook on https://127.0.0.1:8443 with dev certificates (made once in
# certs/dev by `lanegate certs`; trust certs/dev/ca.crt) and the default policies.
run: deps $(BIN)
	@[ -f certs/dev/tls.crt ] && [ -f certs/dev/tls.key ] || \
	  ./$(BIN) certs --out certs/dev --dns localhost --ip 127.0.0.1 --ca-bundle certs/dev/ca-bundle.b64
	./$(BIN) serve --listen 127.0.0.1:8443 --tls-cert certs/dev/tls.crt --tls-key certs/dev/tls.key \
	  --policies policies

clean:
	rm -rf build build-* lanegate

# In-process engine benchmark: a full review vs a bare json_loadb of the same body.
$(BUILD)/bench/engine_bench: tests/bench/engine_bench.c $(LIB_OBJS)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(PKG_LIBS) $(LDLIBS)

bench-engine: $(BUILD)/bench/engine_bench
	$(BUILD)/bench/engine_bench tests/data/reviews/arc-runner-create.json policies

bench: bench-engine

# ---- install, dev manifests (certificates/manifests issue) -------------------
# `make install PREFIX=/usr DESTDIR=/tmp/pkg`: the binary, the man page and the
# default policies. The policies go to $(POLICYDIR) as shipped defaults (a
# reinstall may overwrite them); copy them to /etc/lanegate/policies to edit,
# and point `lanegate serve --policies` there (the container image does that).
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
POLICYDIR ?= $(PREFIX)/share/lanegate/policies
DEV_CERTS ?= certs/dev

.PHONY: install uninstall dev-manifests

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(POLICYDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/lanegate
	install -m 0644 lanegate.1 $(DESTDIR)$(MANDIR)/man1/lanegate.1
	install -m 0644 policies/*.yaml $(DESTDIR)$(POLICYDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/lanegate $(DESTDIR)$(MANDIR)/man1/lanegate.1
	rm -f $(addprefix $(DESTDIR)$(POLICYDIR)/,$(notdir $(wildcard policies/*.yaml)))
	-rmdir $(DESTDIR)$(POLICYDIR) $(DESTDIR)$(PREFIX)/share/lanegate 2>/dev/null

# Dev certificates (certs/dev, made once by `lanegate certs`) and the dev overlay's
# generated/ files (TLS Secret + caBundle); renders it when kubectl is there.
# Then: kubectl apply -k manifests/overlays/dev
dev-manifests: $(BIN)
	bash manifests/overlays/dev/prepare.sh $(CURDIR)/$(BIN) $(DEV_CERTS)
	@if command -v kubectl >/dev/null 2>&1; then \
	  (umask 077; kubectl kustomize manifests/overlays/dev > $(BUILD)/lanegate-dev.yaml) && \
	  echo "rendered $(BUILD)/lanegate-dev.yaml (holds the dev TLS key, mode 0600)"; \
	else echo "kubectl not found: manifests/overlays/dev/generated/ is ready for kubectl apply -k"; fi

# Server benchmark: lanegate serve vs nginx and an MHD+GnuTLS+jansson ceiling (tests/bench/).
$(BUILD)/bench/ceiling: tests/bench/ceiling.c webhook/tls.h
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LDFLAGS) $(PKG_LIBS) $(LDLIBS)

bench-serve: $(BIN) $(BUILD)/bench/ceiling
	LANEGATE=$(CURDIR)/$(BIN) CEILING=$(CURDIR)/$(BUILD)/bench/ceiling bash tests/bench/serve_bench.sh

bench: bench-serve
