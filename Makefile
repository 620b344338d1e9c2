# ferroftpd - build, try, test, lint and install.
# GNU make; the recipes stay POSIX sh, and the variables work with any make.
# `make` alone prints the targets.

CARGO      ?= cargo
MANDOC     ?= mandoc
PYTHON     ?= python3
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(PREFIX)/etc
# Service files: every one goes to EXAMPLESDIR; the one for this system (by uname) also
# goes where its service manager looks, with the paths above written into it.
EXAMPLESDIR ?= $(PREFIX)/share/examples/ferroftpd
SYSTEMDUNITDIR ?= /etc/systemd/system
INITDIR    ?= /etc/init.d
OS         != uname -s
# DESTDIR is prepended to every installed path (staged installs, packages).
DESTDIR    ?=

BIN   = target/release/ferroftpd
MANS  = man/ferroftpd.8 man/ferroftpd.json.5

# `make run`: a demo daemon on loopback.
RUN_PORT ?= 2121

# `make bench`: ferroftpd and the peer servers side by side in one run, plain and explicit
# TLS, through the shared harness (bench/run.sh; peers from $(SHARED)/bench/peers, ferroftpd
# from bench/peers/ferroftpd.sh). About 70 minutes on 2 cores. Quick runs:
#   make bench BENCH_PEERS=pure-ftpd BENCH_SCENARIOS=retr-big,stor-big BENCH_REPEAT=1
# BENCH_PEERS= (empty) runs ferroftpd alone. Results and the report: bench/results/.
SHARED      ?= ../shared
BENCH_PEERS ?= vsftpd pure-ftpd proftpd pyftpdlib unftp
BENCH_SCENARIOS ?= retr-big,stor-big,small-files,logins,list-big,idle-conns,sessions-10k
BENCH_TLS   ?= none explicit
BENCH_REPEAT ?= 3

.PHONY: help build run test lint lint-bsd man bench pgo install uninstall clean

help:
	@echo 'ferroftpd make targets:'
	@echo '  make build      cargo build --release (target/release/ferroftpd)'
	@echo '  make run        demo daemon on 127.0.0.1:$(RUN_PORT), user demo / demo (Ctrl-C stops it)'
	@echo '  make test       cargo test --all-targets, then make man'
	@echo '  make lint       cargo fmt --check; cargo clippy --all-targets -D warnings'
	@echo '  make lint-bsd   the same clippy for x86_64-unknown-freebsd (no BSD machine needed)'
	@echo '  make man        mandoc -Tlint the manual pages'
	@echo '  make bench      ferroftpd vs the peer servers (../shared/bench), ratios; bench/results/'
	@echo '  make pgo        a profile-guided build, target/pgo/ferroftpd (bench/pgo.sh; llvm-tools)'
	@echo '  make install    binary, manual pages, sample config and service files (DESTDIR, PREFIX)'
	@echo '  make uninstall  remove what install put there (configs are kept)'
	@echo '  make clean      cargo clean; remove run/'
	@echo 'Install paths: PREFIX=$(PREFIX) BINDIR=$(BINDIR) MANDIR=$(MANDIR)'
	@echo '               SYSCONFDIR=$(SYSCONFDIR) DESTDIR=$(DESTDIR)'
	@echo '               EXAMPLESDIR=$(EXAMPLESDIR) SYSTEMDUNITDIR=$(SYSTEMDUNITDIR) INITDIR=$(INITDIR)'

build:
	$(CARGO) build --release

# run/ is gitignored. The config is written here; the users file is etc/users.json with its
# home directories moved under run/ (demo -> run/demo-home, reader -> run/pub).
run: build
	@mkdir -p run/demo-home run/pub
	@printf '%s\n' '{' \
	  '  "common": {"idle_timeout": 15, "max_per_host_connections": 20},' \
	  '  "ftpd": {' \
	  '    "bindings": [{"address": "127.0.0.1", "port": $(RUN_PORT)}],' \
	  '    "passive_port_range": {"start": 50000, "end": 50100}' \
	  '  },' \
	  '  "data_provider": {"driver": "memory", "name": "users.json"}' \
	  '}' > run/ferroftpd.json
	@sed -e "s|\"/srv/ftp/|\"$$(pwd)/run/|" etc/users.json > run/users.json
	@grep -q "\"$$(pwd)/run/demo-home\"" run/users.json || \
	  { echo 'make run: could not point the demo home into run/ (is the path odd?)' >&2; exit 1; }
	@echo
	@echo 'ferroftpd on 127.0.0.1:$(RUN_PORT): user demo, password demo, files in run/demo-home'
	@echo '(and user reader / reader, read-only, in run/pub). Connect with:'
	@echo '  curl ftp://demo:demo@127.0.0.1:$(RUN_PORT)/'
	@echo '  lftp -u demo,demo -p $(RUN_PORT) 127.0.0.1'
	@echo 'Ctrl-C stops it.'
	@echo
	exec ./$(BIN) --config run/ferroftpd.json $$([ "$$(id -u)" -eq 0 ] && echo --run-as-root)

test:
	$(CARGO) test --all-targets
	@$(MAKE) man

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# The same clippy for FreeBSD (needs `rustup target add x86_64-unknown-freebsd`): type
# checks the BSD paths (mio's kqueue, the fallbacks for what is Linux-only) with no BSD
# machine. Nothing is linked, so aws-lc-sys's C sources may be compiled against this
# machine's headers; the two defines give them the POSIX types they expect there.
lint-bsd:
	CFLAGS_x86_64_unknown_freebsd='-D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE' \
	  $(CARGO) clippy --target x86_64-unknown-freebsd --all-targets -- -D warnings

# -Wwarning: warnings and errors fail; style notes (such as "referenced manual not found"
# for vsftpd(8) on a machine without it) are not failures.
man:
	$(MANDOC) -Tlint -Wwarning $(MANS)

# The native small-files client and the bare server it measures as a floor (bench/*.rs).
bench: build
	$(CARGO) build --release --example ftpload --example smallfloor
	SHARED='$(SHARED)' BENCH_PEERS='$(BENCH_PEERS)' BENCH_SCENARIOS='$(BENCH_SCENARIOS)' \
	  BENCH_TLS='$(BENCH_TLS)' BENCH_REPEAT='$(BENCH_REPEAT)' PYTHON='$(PYTHON)' bench/run.sh

# A profile-guided build: trained on loopback with the native client, as a peer of the
# harness in $(SHARED) (bench/pgo.sh says why). Compare it: FERROFTPD=$PWD/target/pgo/ferroftpd.
pgo:
	SHARED='$(SHARED)' CARGO='$(CARGO)' bench/pgo.sh

# The configuration is installed only when none is there, so an upgrade keeps the local one.
# The users file goes in as users.json.sample only: its demo accounts have known passwords.
install:
	@test -x $(BIN) || { echo "$(BIN) is missing: run 'make build' first" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(SYSCONFDIR)/ferroftpd
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/ferroftpd
	install -m 0644 man/ferroftpd.8 $(DESTDIR)$(MANDIR)/man8/ferroftpd.8
	install -m 0644 man/ferroftpd.json.5 $(DESTDIR)$(MANDIR)/man5/ferroftpd.json.5
	install -m 0644 etc/ferroftpd.json $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ferroftpd.json.sample
	install -m 0600 etc/users.json $(DESTDIR)$(SYSCONFDIR)/ferroftpd/users.json.sample
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ferroftpd.json ]; then \
	  echo "kept the existing $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ferroftpd.json"; \
	else \
	  echo "install -m 0644 etc/ferroftpd.json $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ferroftpd.json"; \
	  install -m 0644 etc/ferroftpd.json $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ferroftpd.json; \
	fi
	install -d $(DESTDIR)$(EXAMPLESDIR)
	install -m 0644 etc/rc.d/ferroftpd $(DESTDIR)$(EXAMPLESDIR)/rc.d.freebsd
	install -m 0644 etc/rc.d/ferroftpd.openbsd $(DESTDIR)$(EXAMPLESDIR)/rc.d.openbsd
	install -m 0644 etc/init.d/ferroftpd $(DESTDIR)$(EXAMPLESDIR)/init.d.lsb
	install -m 0644 etc/systemd/ferroftpd.service $(DESTDIR)$(EXAMPLESDIR)/ferroftpd.service
	@paths='s|/usr/local/sbin/ferroftpd|$(BINDIR)/ferroftpd|g;s|/usr/local/etc/ferroftpd|$(SYSCONFDIR)/ferroftpd|g'; \
	put() { install -d "$$(dirname "$$2")" && sed -e "$$paths" "$$1" > "$$2" && chmod "$$3" "$$2" && echo "installed $$2"; }; \
	case "$(OS)" in \
	  FreeBSD) put etc/rc.d/ferroftpd $(DESTDIR)$(PREFIX)/etc/rc.d/ferroftpd 0555 ;; \
	  OpenBSD) put etc/rc.d/ferroftpd.openbsd $(DESTDIR)/etc/rc.d/ferroftpd 0555 ;; \
	  Linux) put etc/init.d/ferroftpd $(DESTDIR)$(INITDIR)/ferroftpd 0755 && \
	         put etc/systemd/ferroftpd.service $(DESTDIR)$(SYSTEMDUNITDIR)/ferroftpd.service 0644 ;; \
	  *) echo "no service file for $(OS): see $(EXAMPLESDIR)" ;; \
	esac

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ferroftpd $(DESTDIR)$(MANDIR)/man8/ferroftpd.8 \
	  $(DESTDIR)$(MANDIR)/man5/ferroftpd.json.5 \
	  $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ferroftpd.json.sample \
	  $(DESTDIR)$(SYSCONFDIR)/ferroftpd/users.json.sample
	rm -rf $(DESTDIR)$(EXAMPLESDIR)
	@case "$(OS)" in \
	  FreeBSD) rm -f $(DESTDIR)$(PREFIX)/etc/rc.d/ferroftpd ;; \
	  OpenBSD) rm -f $(DESTDIR)/etc/rc.d/ferroftpd ;; \
	  Linux) rm -f $(DESTDIR)$(INITDIR)/ferroftpd $(DESTDIR)$(SYSTEMDUNITDIR)/ferroftpd.service ;; \
	esac
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/ferroftpd/ (configuration and users): remove it by hand"

clean:
	$(CARGO) clean
	rm -rf run
