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

# install-setuid: copies of the binary as newuidmap/newgidmap, setuid root,
# or with FCAPS=1 with file capabilities (cap_setuid / cap_setgid) instead.
# Started with raised privileges, the binary runs only these two applets.
FCAPS ?=
.PHONY: install-setuid
install-setuid: $(BIN)
	install -d $(DESTDIR)$(BINDIR)
	for m in newuidmap newgidmap; do \
	  rm -f $(DESTDIR)$(BINDIR)/$$m; \
	  if [ -n "$(FCAPS)" ]; then \
	    install -m 0755 -o root -g root $(BIN) $(DESTDIR)$(BINDIR)/$$m; \
	  else \
	    install -m 4755 -o root -g root $(BIN) $(DESTDIR)$(BINDIR)/$$m; \
	  fi; \
	done
	if [ -n "$(FCAPS)" ]; then \
	  setcap cap_setuid+ep $(DESTDIR)$(BINDIR)/newuidmap && \
	  setcap cap_setgid+ep $(DESTDIR)$(BINDIR)/newgidmap; \
	fi
