# parley — top-level GNU Makefile.
#
# Builds lib/ into a static library and every bin/<prog>/ into build/bin/<prog>.
# Library and tool dependencies are checked first (mk/deps.sh): installed with
# apt-get when run as root, otherwise the exact apt-get line is printed.

PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
CC        ?= cc
PKGS      := libevent libevent_pthreads lmdb msgpack libcurl libsodium jansson libcrypto libnats
DEPS_OK   := $(BUILD)/.deps-ok

CFLAGS    ?= -O2 -g
XCFLAGS    = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
             -Ilib/util -Ilib/parley $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lhttp_parser -lm

PROGS     := $(notdir $(wildcard bin/*))
LIB_SRC   := $(wildcard lib/*/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBA      := $(BUILD)/libparley.a
BINS      := $(PROGS:%=$(BUILD)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS_SRC := $(wildcard tests/bench/*.c)
TOOLS     := $(TOOLS_SRC:tests/bench/%.c=$(BUILD)/tools/%)
FUZZ_SRC  := $(wildcard tests/fuzz/*.c)
FUZZREPLAY:= $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps run run-cluster test unit integration bench asan install clean lint-man
.SECONDARY:

all: $(BINS) $(TOOLS)

deps: $(DEPS_OK)
$(DEPS_OK): mk/deps.sh
	@sh mk/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# msg starts for every command a person or a script types: its libraries
# are linked in (Debian's -dev packages ship the archives), so that the
# dynamic loader maps only libc before main (issue 16: msg under 5 ms);
# --as-needed drops the daemons' shared libraries msg never calls (libnats
# and what it loads, libcurl).
LDLIBS_msg = -Wl,--as-needed -Wl,-Bstatic -levent -lmsgpackc -lsodium -ljansson -lcsv -Wl,-Bdynamic

# The daemons (not msg, which lives a moment) allocate with jemalloc: under
# load glibc's malloc spent 10 to 18 % of whatsappd's and sandboxd's CPU in
# _int_malloc and malloc_consolidate (JSON trees, libcurl's transfers,
# evbuffers); with jemalloc a WhatsApp send cost whatsappd 15 % and routerd
# 7 % less CPU (issue 16).  MALLOC= builds them with glibc's (make asan
# does: ASan brings its own).
MALLOC    ?= -ljemalloc

define prog_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bin/$(1)/*.c)) $(LIBA)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBA) $$(LDLIBS_$(1)) $$(LDLIBS) $(if $(filter msg,$(1)),,$$(MALLOC))
endef
$(foreach p,$(PROGS),$(eval $(call prog_rule,$(p))))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBA) $(LDLIBS)

# A unit test or fuzz target of a program's own logic links that program's
# object files (it includes the program's header, never a .c file).
PROG_OBJ   = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
WA_PARSE  := bin/whatsappd/whatsappd_parse.c
MG_PARSE  := bin/messengerd/messengerd_parse.c
STATSFOLD := bin/statsd/statsd_fold.c bin/statsd/statsd_view.c
$(BUILD)/tests/t_wa_parse $(BUILD)/fuzz/fz_wa_parse: $(call PROG_OBJ,$(WA_PARSE))
$(BUILD)/tests/t_mg_parse $(BUILD)/fuzz/fz_mg_parse: $(call PROG_OBJ,$(MG_PARSE))
$(BUILD)/tests/t_statsfold: $(call PROG_OBJ,$(STATSFOLD))

# (the bench's tools keep glibc's malloc: loadgen forks the commands whose
# start-up it times, and a jemalloc heap made each fork 0.7 ms slower here)
$(BUILD)/tools/%: $(BUILD)/obj/tests/bench/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Fuzz targets built as replay drivers (tests/fuzz/replay_main.c.in supplies main):
# every kept crasher and seed under tests/fuzz/corpus/<target>/ is run by make test.
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBA) $(LDLIBS)
$(BUILD)/obj/tests/fuzz/replay_main.o: tests/fuzz/replay_main.c.in | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -x c -c -o $@ $<

run: all
	@sh mk/run.sh

run-cluster: all
	@bash mk/run-cluster.sh

test: all $(UNITS) $(FUZZREPLAY)
	@bash tests/run.sh

bench: all
	@bash tests/bench/bench.sh
	@echo
	@bash tests/bench/cluster.sh
	@echo
	@bash tests/bench/contacts.sh
	@echo
	@echo "routing   lib/route decisions with 1,000 agents and 10,000 waiting conversations"
	@$(BUILD)/tools/routebench
	@echo
	@bash tests/bench/statsd.sh
	@echo
	@bash tests/bench/campaign.sh

asan:
	$(MAKE) BUILD=build-asan CC=gcc MALLOC= \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" test

lint-man:
	mandoc -Tlint -Wwarning man/man*/*

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/bin/msg $(DESTDIR)$(PREFIX)/bin/msg
	for p in $(filter-out msg,$(PROGS)); do \
	    install -m 0755 $(BUILD)/bin/$$p $(DESTDIR)$(PREFIX)/sbin/$$p; done
	for s in 1 5 7 8; do install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
	    for f in man/man$$s/*.$$s; do [ -f "$$f" ] && install -m 0644 $$f $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; done
	install -d $(DESTDIR)$(PREFIX)/share/parley/etc $(DESTDIR)$(PREFIX)/share/parley/rc.d
	cp -R etc/. $(DESTDIR)$(PREFIX)/share/parley/etc/
	cp -R rc.d/. $(DESTDIR)$(PREFIX)/share/parley/rc.d/

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fuzzing (optional; needs clang with libFuzzer, Debian's clang package).
# make fuzz [FUZZ_SECS=60]: builds every tests/fuzz/<t>.c as a libFuzzer
# binary in build-fuzz/fuzz/<t> and runs it from tests/fuzz/corpus/<t>/ (new
# inputs go to build-fuzz/corpus/<t>/); a crasher is saved into
# tests/fuzz/corpus/<t>/ so that make test replays it from then on.  A
# target that needs libFuzzer flags of its own (a smaller -max_len where
# longer inputs add only time) names them on a " * libFuzzer flags: ..."
# line of its header comment.  Undefined behaviour stops the run like a
# crash (-fno-sanitize-recover), so that its input is kept too.
FUZZ_CC    ?= clang
FUZZ_SECS  ?= 60
FUZZ_FLAGS  = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined
.PHONY: fuzz
fuzz:
	@$(FUZZ_CC) --version >/dev/null 2>&1 || { \
	    echo "make fuzz: $(FUZZ_CC) not found; apt-get install -y clang" >&2; exit 1; }
	$(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) \
	    CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" build-fuzz/libparley.a
	@set -e; for src in $(FUZZ_SRC); do t=$$(basename $$src .c); \
	    mkdir -p build-fuzz/fuzz build-fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	    case $$t in fz_wa_parse) prog="$(WA_PARSE)";; \
	    fz_mg_parse) prog="$(MG_PARSE)";; *) prog="";; esac; \
	    $(FUZZ_CC) $(XCFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -o build-fuzz/fuzz/$$t \
	        $$src $$prog build-fuzz/libparley.a $(LDLIBS); \
	    echo "fuzz: $$t for $(FUZZ_SECS)s"; \
	    build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECS) -print_final_stats=1 \
	        $$(sed -n 's/^ \* libFuzzer flags: //p' $$src) \
	        -artifact_prefix=tests/fuzz/corpus/$$t/crash- \
	        build-fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	done
