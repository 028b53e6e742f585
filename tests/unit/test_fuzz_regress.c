/*
 * test_fuzz_regress: replays the fuzzer's inputs through the fuzz harness
 * (tests/fuzz/fuzz_study.c: load, expand, instantiate every argv) without
 * libFuzzer: every crash the fuzzer found (tests/fuzz/regress/), the kept
 * corpus (tests/fuzz/corpus/) and the malformed fixtures. The harness aborts
 * on a broken invariant; under SAN=1, ASan/UBSan abort on memory errors and
 * undefined behaviour, so a regression fails this test in `make test`. (gcc's
 * -fsanitize=undefined lacks float-cast-overflow: `make fuzz` replays
 * tests/fuzz/regress/ under clang first, which catches that kind too.)
 */
#include "check.h"
#include "../fuzz/fuzz_study.c"
#include "canon.h"

#include <dirent.h>
#include <sys/stat.h>

/* Replays every file of DIR whose name ends in SUFFIX; the number replayed,
 * or -1 when DIR cannot be opened or one of its files cannot be read (so
 * that a missing or unreadable corpus is not a pass). */
static int replay_dir(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0, unread = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT;
		size_t len = strlen(de->d_name), sl = strlen(suffix);
		if (de->d_name[0] == '.' || len < sl || strcmp(de->d_name + len - sl, suffix))
			continue;
		strbuf_addf(&path, "%s/%s", dir, de->d_name);
		if (strbuf_read_file(&buf, path.buf) == 0) {
			LLVMFuzzerTestOneInput((const uint8_t *)buf.buf, buf.len);
			n++;
		} else {
			printf("# cannot read %s\n", path.buf);
			unread++;
		}
		strbuf_release(&path);
		strbuf_release(&buf);
	}
	closedir(d);
	return unread ? -1 : n;
}

int main(void)
{
	char what[128];
	int n;

	n = replay_dir("tests/fuzz/regress", ".yaml");
	snprintf(what, sizeof(what), "%d crash reproducers from the fuzzer replay cleanly", n);
	CHECK(n >= 1, what);
	n = replay_dir("tests/fuzz/corpus", "");
	snprintf(what, sizeof(what), "%d fuzz corpus inputs replay cleanly", n);
	/* 649 inputs today; `make fuzz-merge` may make it smaller, never empty */
	CHECK(n >= 1, what);
	n = replay_dir("tests/malformed", ".yaml");
	snprintf(what, sizeof(what), "%d malformed fixtures replay cleanly", n);
	CHECK(n >= 40, what);
	/* the first reproducer: a huge number in params (UB in canon_number) */
	{
		static const char big[] = "study: s\nmodels:\n  m1:\n    run: [a]\n    params:\n"
					  "      k: 333333333333333333333333\n";
		LLVMFuzzerTestOneInput((const uint8_t *)big, sizeof(big) - 1);
		cJSON *num = cJSON_CreateNumber(3.333333333333333e23);
		struct strbuf out = STRBUF_INIT;
		canon_json(num, &out);
		CHECK(strtod(out.buf, NULL) == 3.333333333333333e23 && strchr(out.buf, 'e'),
		      "a number beyond long long's range is written in exponent form, exactly");
		strbuf_release(&out);
		cJSON_Delete(num);
	}
	return check_done();
}
