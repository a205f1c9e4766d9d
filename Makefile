# nstools: build, test, install, bench.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DESTDIR ?=
CARGO   ?= cargo

BIN     := target/release/nstools
# The applet names come from the binary itself, so they never drift.
APPLETS  = $(shell $(BIN) --list)

.PHONY: all build test install uninstall bench clean

all: build

build: $(BIN)

$(BIN): Cargo.toml $(shell find src -name '*.rs')
	$(CARGO) build --release --locked

test:
	bash tests/leak-check.sh $(CARGO) test --locked --no-fail-fast

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/nstools
	for a in $(APPLETS); do ln -sfn nstools $(DESTDIR)$(BINDIR)/$$a; done

uninstall:
	for a in $(APPLETS); do \
	  if [ "$$(readlink $(DESTDIR)$(BINDIR)/$$a)" = nstools ]; then rm -f $(DESTDIR)$(BINDIR)/$$a; fi; \
	done
	rm -f $(DESTDIR)$(BINDIR)/nstools

bench: $(BIN)
	bash bench/run.sh

clean:
	$(CARGO) clean
