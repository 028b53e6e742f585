/*
 * cli: message helpers and defaults shared by the subcommands. See cli.h.
 */
#include "cli.h"
#include "plan.h"
#include "stagecmd.h"
#include "strmap.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("study: error: ", fmt, ap);
	va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("study: warning: ", fmt, ap);
	va_end(ap);
}

/* 1 when dir/artifacts holds a store. */
static int has_store(struct strbuf *dir)
{
	size_t keep = dir->len;
	struct stat sb;
	strbuf_addstr(dir, "/artifacts/objects");
	int yes = stat(dir->buf, &sb) == 0 && S_ISDIR(sb.st_mode);
	strbuf_setlen(dir, keep);
	strbuf_addstr(dir, "/artifacts/provenance.db");
	yes = yes || stat(dir->buf, &sb) == 0;
	strbuf_setlen(dir, keep);
	return yes;
}

char *store_dir_for_study(const char *opt, const char *root)
{
	if (opt && *opt)
		return xstrdup(opt);
	const char *env = getenv("STUDY_STORE");
	if (env && *env)
		return xstrdup(env);
	return xasprintf("%s%sartifacts", root, root[strlen(root) - 1] == '/' ? "" : "/");
}

/* The first dir/artifacts holding a store, from the current directory up. */
static char *find_store_upwards(void)
{
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup("artifacts");
	struct strbuf dir = STRBUF_INIT;
	strbuf_addstr(&dir, cwd);
	free(cwd);
	for (;;) {
		if (has_store(&dir)) {
			strbuf_addstr(&dir, dir.len > 1 ? "/artifacts" : "artifacts");
			return strbuf_detach(&dir, NULL);
		}
		char *slash = strrchr(dir.buf, '/');
		if (!slash || dir.len <= 1)
			break;
		strbuf_setlen(&dir, slash == dir.buf ? 1 : (size_t)(slash - dir.buf));
	}
	strbuf_release(&dir);
	return xstrdup("artifacts");
}

const char *store_dir_default(const char *opt)
{
	static char *found;
	if (opt && *opt)
		return opt;
	const char *env = getenv("STUDY_STORE");
	if (env && *env)
		return env;
	if (!found)
		found = find_store_upwards(); /* lives until exit */
	return found;
}

void cli_warn_unhashed(const struct plan *p)
{
	struct code_digests cd;
	code_digests_init(&cd);
	struct strbuf why = STRBUF_INIT;
	struct strmap seen = STRMAP_INIT;
	char name[32];
	for (size_t i = 0; i < p->nr; i++) {
		const struct entry *e = p->stages[i].entry;
		snprintf(name, sizeof(name), "%p", (const void *)e);
		if (strmap_put(&seen, name, (void *)e))
			continue; /* one warning per entry */
		for (size_t n = 0; n < e->steps_nr; n++) {
			strbuf_reset(&why);
			if (stagecmd_unhashed_program(p, i, n, &cd, &why))
				cli_warning("%s:%d:%d: %s", p->study->path,
					    e->steps[n].argv[0].pos.line,
					    e->steps[n].argv[0].pos.col, why.buf);
		}
	}
	strbuf_release(&why);
	strmap_clear(&seen, NULL);
	code_digests_release(&cd);
}

int cli_parse_count(const char *s, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	*out = v;
	return 0;
}

int use_color(void)
{
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return 0;
	return isatty(STDOUT_FILENO);
}

void cli_print_doc(cJSON *doc, int json, void (*print)(FILE *f, const cJSON *doc))
{
	if (json) {
		char *text = cJSON_Print(doc);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		print(stdout, doc);
	}
	cJSON_Delete(doc);
}
