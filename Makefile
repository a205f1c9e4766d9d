# nstools: build, test, install, bench.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DESTDIR ?=
CARGO   ?= cargo

BIN     := target/release/nstools
# The release binary is linked statically: no dynamic loader at start-up, a
# quarter of what `unshare -r true` costs (bench/10-unshare.sh). crt-static
# must not reach proc macros, hence the explicit --target.
TARGET  ?= $(shell rustc -vV | sed -n 's/^host: //p')
STATIC  := RUSTFLAGS="$(RUSTFLAGS) -C target-feature=+crt-static"
# The applet names come from the binary itself, so they never drift.
APPLETS  = $(shell $(BIN) --list 2>/dev/null || $(DESTDIR)$(BINDIR)/nstools --list)

.PHONY: all build test install uninstall bench clean

all: build

build: $(BIN)

$(BIN): Cargo.toml $(shell find src -name '*.rs')
	$(STATIC) $(CARGO) build --release --locked --target $(TARGET)
	install -D -m 0755 target/$(TARGET)/release/nstools $(BIN)

test:
	bash tests/leak-check.sh env $(STATIC) $(CARGO) test --locked --no-fail-fast --target $(TARGET)

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
