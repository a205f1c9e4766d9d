# nstools: build, test, install, man pages and completions, bench.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR     ?=
CARGO       ?= cargo

# Not under target/release, which a plain `cargo build --release` would
# overwrite with a dynamically linked build.
RELEASE := target/nstools
# The binary to install (the tests install their debug build).
BIN     ?= $(RELEASE)
# The release binary is linked statically: no dynamic loader at start-up, a
# quarter of what `unshare -r true` costs (bench/10-unshare.sh). crt-static
# must not reach proc macros, hence the explicit --target. Its relative
# relocations are packed (DT_RELR, glibc >= 2.36): a 2 KiB table where plain
# RELA takes 74 KiB, all of it read at every start (bench/10-unshare.sh: peak
# RSS), and the binary stays position-independent, as a setuid one should.
TARGET  ?= $(shell rustc -vV | sed -n 's/^host: //p')
STATIC  := RUSTFLAGS="$(RUSTFLAGS) -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs"
# The applet names come from the binary itself, so they never drift.
APPLETS  = $(shell $(BIN) --list 2>/dev/null || $(DESTDIR)$(BINDIR)/nstools --list)
# What gets installed besides the binary: the committed, generated files.
MANPAGES := $(wildcard man/*.1 man/*.8)
BASHCOMP := $(wildcard completions/bash/*)
ZSHCOMP  := $(wildcard completions/zsh/_*)
FISHCOMP := $(wildcard completions/fish/*.fish)

.PHONY: all build test man completions install uninstall bench fuzz clean

all: build

build: $(BIN)

$(RELEASE): Makefile Cargo.toml $(shell find src -name '*.rs')
	$(STATIC) $(CARGO) build --release --locked --target $(TARGET)
	install -D -m 0755 target/$(TARGET)/release/nstools $(RELEASE)

test:
	bash tests/leak-check.sh env $(STATIC) $(CARGO) test --locked --no-fail-fast --target $(TARGET)

# Regenerate from the clap definitions and man/src/*.md (tests/docs.rs
# fails when the committed files differ from what this writes).
man:
	$(CARGO) run --quiet --locked --example gendocs -- man

completions:
	$(CARGO) run --quiet --locked --example gendocs -- completions

install: $(BIN)
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 0755 $(BIN) "$(DESTDIR)$(BINDIR)/nstools"
	for a in $(APPLETS); do ln -sfn nstools "$(DESTDIR)$(BINDIR)/$$a"; done
	# An alias page (newuidmap.1) is a link to its page in man/, and stays one.
	for p in $(MANPAGES); do \
	  d="$(DESTDIR)$(MANDIR)/man$${p##*.}"; install -d "$$d" || exit 1; \
	  if [ -L "$$p" ]; then ln -sfn "$$(readlink "$$p")" "$$d/$${p##*/}" || exit 1; \
	  else install -m 0644 "$$p" "$$d/" || exit 1; fi; \
	done
	install -d "$(DESTDIR)$(BASHCOMPDIR)" "$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(FISHCOMPDIR)"
	install -m 0644 $(BASHCOMP) "$(DESTDIR)$(BASHCOMPDIR)/"
	install -m 0644 $(ZSHCOMP) "$(DESTDIR)$(ZSHCOMPDIR)/"
	install -m 0644 $(FISHCOMP) "$(DESTDIR)$(FISHCOMPDIR)/"

# Removes what install put, by the same lists: applet links only where they
# still point to nstools. Directories stay (they may hold other files).
uninstall:
	apps="$$("$(DESTDIR)$(BINDIR)/nstools" --list 2>/dev/null) $(APPLETS)"; \
	for a in $$apps; do \
	  if [ "$$(readlink "$(DESTDIR)$(BINDIR)/$$a")" = nstools ]; then rm -f "$(DESTDIR)$(BINDIR)/$$a"; fi; \
	done
	rm -f "$(DESTDIR)$(BINDIR)/nstools"
	# The privileged copies of install-setuid: regular files with our ELF
	# note (never shadow's newuidmap/newgidmap, which lack it).
	for m in newuidmap newgidmap; do \
	  f="$(DESTDIR)$(BINDIR)/$$m"; \
	  if [ -f "$$f" ] && [ ! -L "$$f" ] && grep -qa 'fd-targets' "$$f"; then rm -f "$$f"; fi; \
	done
	for p in $(MANPAGES); do rm -f "$(DESTDIR)$(MANDIR)/man$${p##*.}/$${p##*/}"; done
	for f in $(BASHCOMP); do rm -f "$(DESTDIR)$(BASHCOMPDIR)/$${f##*/}"; done
	for f in $(ZSHCOMP); do rm -f "$(DESTDIR)$(ZSHCOMPDIR)/$${f##*/}"; done
	for f in $(FISHCOMP); do rm -f "$(DESTDIR)$(FISHCOMPDIR)/$${f##*/}"; done

bench: $(BIN)
	bash bench/run.sh

# Every fuzz target for FUZZ_SECONDS each (default 600; nightly + cargo-fuzz).
fuzz:
	bash fuzz/run.sh

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

# Many commands at once, then a check that nothing is left (not part of
# make test). SCALE=1 is issue 8's sizes; CI runs SCALE=0.1.
.PHONY: stress
stress:
	bash stress/run.sh
