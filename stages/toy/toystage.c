/*
 * toystage: small, fast, deterministic stage programs for studies/example.yaml
 * and the orchestrator's tests. They follow the stage protocol (write only
 * under --out, read inputs by path, exit 2 on bad arguments) but compute
 * nothing of scientific interest: a "model" is a list of numbers.
 *
 *   toystage gen       --seed S --n N --out DIR          data: N numbers
 *   toystage train     --data D --size K [--steps N] --out DIR   a "model"
 *   toystage transform --model M --factor F --out DIR    a "method"/"mitigation"
 *   toystage score     --model M --task T [--base B] --out DIR   metrics.json
 *   toystage report    --out DIR EVAL...                 report.md over evals
 *   toystage fail      [--code N]                        exits N (default 3)
 *   toystage sleep     --seconds S --out DIR             sleeps, then writes
 *   toystage nondet    --out DIR                         writes the time
 *   toystage empty                                       exits 0, writes nothing
 *   toystage spawn     --seconds S --pidfile F [--child-seconds C] --out DIR
 *                                                        leaves a grandchild (its pid
 *                                                        in F) sleeping C (or S) seconds, then
 *                                                        sleeps S itself and writes
 *   toystage crash     [--signal N]                      kills itself (default SIGSEGV)
 *   toystage touch-input --input DIR --out DIR           appends to the first regular file
 *                                                        of an input (misbehaves on purpose)
 *   toystage argv      --out DIR ARG...                  writes its arguments, one a line
 *   toystage memhog    --mib N --out DIR                 allocates and touches N MiB
 *                                                        (a known peak RSS), then writes
 *   toystage derive    --name L --out DIR [INPUT...]     writes DIR/result.txt: L and a
 *                                                        64-bit FNV-1a of L and the inputs'
 *                                                        bytes (an input is a file, or a dir
 *                                                        holding result.txt); creates DIR
 *                                                        (the benchmarks' trivial stage)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_WEIGHTS 4096

static const char *usage_text =
	"usage: toystage gen|train|transform|score|report|fail|sleep|nondet|empty [options]\n"
	"  gen       --seed S --n N --out DIR\n"
	"  train     --data DIR --size K [--steps N] --out DIR\n"
	"  transform --model DIR --factor F --out DIR\n"
	"  score     --model DIR --task NAME [--base DIR] --out DIR\n"
	"  report    --out DIR EVALDIR...\n"
	"  fail      [--code N]\n"
	"  sleep     --seconds S --out DIR\n"
	"  nondet    --out DIR\n"
	"  empty\n"
	"  spawn     --seconds S --pidfile F [--child-seconds C] --out DIR\n"
	"  crash     [--signal N]\n"
	"  touch-input --input DIR --out DIR\n"
	"  argv      --out DIR ARG...\n"
	"  memhog    --mib N --out DIR\n"
	"  derive    --name L --out DIR [INPUT...]\n";

static int bad(const char *msg, const char *arg)
{
	fprintf(stderr, "toystage: error: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "",
		arg ? "'" : "");
	return 2;
}

/* Look up "--name VALUE" in argv; NULL when absent. */
static const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 2; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char tmp[4096], final[4096];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "toystage: error: cannot write '%s': %s\n", tmp, strerror(errno));
		return -1;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, final) != 0) {
		fprintf(stderr, "toystage: error: cannot write '%s': %s\n", final, strerror(errno));
		return -1;
	}
	return 0;
}

static int read_numbers(const char *dir, const char *name, double *v, int max)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "toystage: error: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	int n = 0;
	while (n < max && fscanf(f, "%lf", &v[n]) == 1)
		n++;
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "toystage: error: '%s' holds no numbers\n", path);
		return -1;
	}
	return n;
}

static void append(char *buf, size_t cap, size_t *len, const char *fmt, double x)
{
	if (*len >= cap)
		return;
	int n = snprintf(buf + *len, cap - *len, fmt, x);
	if (n > 0)
		*len += (size_t)n;
}

static int write_numbers(const char *dir, const char *name, const double *v, int n)
{
	size_t cap = (size_t)n * 32 + 16, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		append(buf, cap, &len, "%.9f\n", v[i]);
	int rc = write_file(dir, name, buf);
	free(buf);
	return rc;
}

static void progress(double f)
{
	const char *fd_s = getenv("STUDY_PROGRESS_FD");
	if (!fd_s)
		return;
	char line[64];
	int n = snprintf(line, sizeof(line), "progress %.3f training\n", f);
	if (write(atoi(fd_s), line, (size_t)n) < 0) {
		/* progress is best effort */
	}
}

static int cmd_gen(int argc, char **argv)
{
	const char *seed = opt(argc, argv, "--seed"), *n_s = opt(argc, argv, "--n");
	const char *out = opt(argc, argv, "--out");
	if (!seed || !n_s || !out)
		return bad("gen needs --seed, --n and --out", NULL);
	int n = atoi(n_s);
	if (n < 1 || n > MAX_WEIGHTS)
		return bad("--n must be 1..4096, not", n_s);
	unsigned long long x = strtoull(seed, NULL, 10) * 6364136223846793005ULL + 1;
	double v[MAX_WEIGHTS];
	for (int i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		v[i] = (double)(x >> 11) / 9007199254740992.0;
	}
	return write_numbers(out, "data.txt", v, n) ? 1 : 0;
}

static int cmd_train(int argc, char **argv)
{
	const char *data = opt(argc, argv, "--data"), *size_s = opt(argc, argv, "--size");
	const char *out = opt(argc, argv, "--out"), *steps_s = opt(argc, argv, "--steps");
	if (!data || !size_s || !out)
		return bad("train needs --data, --size and --out", NULL);
	int size = atoi(size_s), steps = steps_s ? atoi(steps_s) : 4;
	if (size < 1 || size > MAX_WEIGHTS)
		return bad("--size must be 1..4096, not", size_s);
	double d[MAX_WEIGHTS], w[MAX_WEIGHTS];
	int n = read_numbers(data, "data.txt", d, MAX_WEIGHTS);
	if (n < 0)
		return 1;
	for (int i = 0; i < size; i++)
		w[i] = 0;
	for (int s = 0; s < steps; s++) {
		for (int i = 0; i < size; i++)
			w[i] += (d[(i + s) % n] - w[i]) * 0.5;
		progress((double)(s + 1) / steps);
	}
	return write_numbers(out, "model.txt", w, size) ? 1 : 0;
}

static int cmd_transform(int argc, char **argv)
{
	const char *model = opt(argc, argv, "--model"), *f_s = opt(argc, argv, "--factor");
	const char *out = opt(argc, argv, "--out");
	if (!model || !f_s || !out)
		return bad("transform needs --model, --factor and --out", NULL);
	char *end;
	double f = strtod(f_s, &end);
	if (*end)
		return bad("--factor must be a number, not", f_s);
	double w[MAX_WEIGHTS];
	int n = read_numbers(model, "model.txt", w, MAX_WEIGHTS);
	if (n < 0)
		return 1;
	for (int i = 0; i < n; i++)
		w[i] *= f;
	return write_numbers(out, "model.txt", w, n) ? 1 : 0;
}

static int cmd_score(int argc, char **argv)
{
	const char *model = opt(argc, argv, "--model"), *task = opt(argc, argv, "--task");
	const char *out = opt(argc, argv, "--out"), *base = opt(argc, argv, "--base");
	if (!model || !task || !out)
		return bad("score needs --model, --task and --out", NULL);
	double w[MAX_WEIGHTS], b[MAX_WEIGHTS];
	int n = read_numbers(model, "model.txt", w, MAX_WEIGHTS);
	if (n < 0)
		return 1;
	double mean = 0;
	for (int i = 0; i < n; i++)
		mean += w[i];
	mean /= n;
	double shift = 0;
	if (base) {
		int nb = read_numbers(base, "model.txt", b, MAX_WEIGHTS);
		if (nb < 0)
			return 1;
		for (int i = 0; i < nb && i < n; i++)
			shift += fabs(w[i] - b[i]);
		shift /= n;
	}
	double v = fmin(1.0, fmax(0.0, mean));
	double half = 1.96 * sqrt(v * (1 - v) / 100.0);
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metrics\": {\"%s\": {\"value\": %.6f, \"n\": 100, \"ci_low\": %.6f, "
		 "\"ci_high\": %.6f}, \"shift\": %.6f}}\n",
		 task, v, fmax(0.0, v - half), fmin(1.0, v + half), shift);
	return write_file(out, "metrics.json", buf) ? 1 : 0;
}

static int cmd_report(int argc, char **argv)
{
	const char *out = opt(argc, argv, "--out");
	if (!out)
		return bad("report needs --out", NULL);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return 1;
	len = (size_t)snprintf(buf, cap, "# toy report\n\n");
	int count = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--out")) {
			i++;
			continue;
		}
		char path[4096];
		snprintf(path, sizeof(path), "%s/metrics.json", argv[i]);
		FILE *f = fopen(path, "r");
		if (!f) {
			free(buf);
			fprintf(stderr, "toystage: error: cannot read '%s': %s\n", path,
				strerror(errno));
			return 1;
		}
		char line[1024];
		while (fgets(line, sizeof(line), f)) {
			size_t l = strlen(line);
			if (len + l + 1 >= cap) {
				cap *= 2;
				char *nb = realloc(buf, cap);
				if (!nb) {
					fclose(f);
					free(buf);
					return 1;
				}
				buf = nb;
			}
			memcpy(buf + len, line, l + 1);
			len += l;
		}
		fclose(f);
		count++;
	}
	char tail[64];
	snprintf(tail, sizeof(tail), "\nevaluations: %d\n", count);
	if (len + strlen(tail) + 1 < cap)
		memcpy(buf + len, tail, strlen(tail) + 1);
	int rc = write_file(out, "report.md", buf);
	free(buf);
	return rc ? 1 : 0;
}

/* Touch every page of N MiB so that the peak RSS is N MiB above the program's
 * own baseline (which is about 1 MiB); the memory tests measure against it. */
static int cmd_memhog(int argc, char **argv)
{
	const char *n = opt(argc, argv, "--mib"), *out = opt(argc, argv, "--out");
	if (!n || !out || atol(n) < 0)
		return bad("memhog needs --mib N and --out", NULL);
	size_t bytes = (size_t)atol(n) << 20;
	volatile unsigned char *p = bytes ? malloc(bytes) : NULL;
	if (bytes && !p)
		return 1;
	long page = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < bytes; i += (size_t)page)
		p[i] = (unsigned char)i | 1;
	int rc = write_file(out, "memhog.txt", "done\n") ? 1 : 0;
	free((void *)p);
	return rc;
}

static int cmd_sleep(int argc, char **argv)
{
	const char *s = opt(argc, argv, "--seconds"), *out = opt(argc, argv, "--out");
	if (!s || !out)
		return bad("sleep needs --seconds and --out", NULL);
	double secs = atof(s);
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	return write_file(out, "slept.txt", "done\n") ? 1 : 0;
}

static int cmd_nondet(int argc, char **argv)
{
	const char *out = opt(argc, argv, "--out");
	if (!out)
		return bad("nondet needs --out", NULL);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char buf[64];
	snprintf(buf, sizeof(buf), "%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
	return write_file(out, "time.txt", buf) ? 1 : 0;
}

static void sleep_secs(double secs)
{
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A grandchild that outlives the stage unless its process group is killed. */
static int cmd_spawn(int argc, char **argv)
{
	const char *s = opt(argc, argv, "--seconds"), *pidfile = opt(argc, argv, "--pidfile");
	const char *out = opt(argc, argv, "--out");
	if (!s || !pidfile || !out)
		return bad("spawn needs --seconds, --pidfile and --out", NULL);
	pid_t pid = fork();
	if (pid < 0)
		return bad("fork failed", NULL);
	if (pid == 0) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		FILE *f = fopen(pidfile, "w");
		if (f) {
			fputs(buf, f);
			fclose(f);
		}
		const char *cs = opt(argc, argv, "--child-seconds");
		sleep_secs(atof(cs ? cs : s));
		_exit(0);
	}
	sleep_secs(atof(s));
	return write_file(out, "spawned.txt", "done\n") ? 1 : 0;
}

/* Append to the first regular file found in an input directory. */
static int cmd_touch_input(int argc, char **argv)
{
	const char *in = opt(argc, argv, "--input"), *out = opt(argc, argv, "--out");
	if (!in || !out)
		return bad("touch-input needs --input and --out", NULL);
	DIR *d = opendir(in);
	if (!d)
		return bad("cannot open input", in);
	struct dirent *de;
	int done = 0;
	while (!done && (de = readdir(d))) {
		char path[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", in, de->d_name);
		FILE *f = fopen(path, "a");
		if (!f)
			continue;
		fputs("tampered\n", f);
		fclose(f);
		done = 1;
	}
	closedir(d);
	if (write_file(out, "touched.txt", done ? "yes\n" : "no\n"))
		return 1;
	return 0;
}

static int cmd_argv(int argc, char **argv)
{
	const char *out = opt(argc, argv, "--out");
	if (!out)
		return bad("argv needs --out", NULL);
	size_t cap = 1, len = 0;
	for (int i = 2; i < argc; i++)
		cap += strlen(argv[i]) + 1;
	char *buf = malloc(cap);
	if (!buf)
		return 1;
	buf[0] = '\0';
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--out")) {
			i++;
			continue;
		}
		size_t l = strlen(argv[i]);
		memcpy(buf + len, argv[i], l);
		len += l;
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	int rc = write_file(out, "argv.txt", buf);
	free(buf);
	return rc ? 1 : 0;
}

/* mkdir -p; 0 or -1 (errno). */
static int make_dirs(const char *dir)
{
	char buf[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		buf[i] = c;
	}
	return 0;
}

static unsigned long long fnv1a(unsigned long long h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Hash one input (a file, or a directory's result.txt) into h; -1 on error. */
static int derive_input(const char *in, unsigned long long *h)
{
	char path[4096];
	struct stat sb;
	if (stat(in, &sb) == 0 && S_ISDIR(sb.st_mode))
		snprintf(path, sizeof(path), "%s/result.txt", in);
	else
		snprintf(path, sizeof(path), "%s", in);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "toystage: error: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		*h = fnv1a(*h, buf, (size_t)n);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "toystage: error: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The benchmarks' trivial stage: the same bytes whichever tool runs it. */
static int cmd_derive(int argc, char **argv)
{
	const char *name = NULL, *out = NULL;
	unsigned long long h = 14695981039346656037ULL;
	int inputs = 0;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
	}
	if (!name || !out)
		return bad("derive needs --name and --out", NULL);
	h = fnv1a(h, name, strlen(name) + 1);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--name") || !strcmp(argv[i], "--out")) {
			i++;
			continue;
		}
		if (derive_input(argv[i], &h) < 0)
			return 1;
		inputs++;
	}
	if (make_dirs(out) < 0) {
		fprintf(stderr, "toystage: error: cannot create '%s': %s\n", out, strerror(errno));
		return 1;
	}
	char line[4096];
	snprintf(line, sizeof(line), "%s %016llx %d\n", name, h, inputs);
	return write_file(out, "result.txt", line) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "gen"))
		return cmd_gen(argc, argv);
	if (!strcmp(cmd, "train"))
		return cmd_train(argc, argv);
	if (!strcmp(cmd, "transform"))
		return cmd_transform(argc, argv);
	if (!strcmp(cmd, "score"))
		return cmd_score(argc, argv);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc, argv);
	if (!strcmp(cmd, "fail")) {
		const char *c = opt(argc, argv, "--code");
		fprintf(stderr, "toystage: failing on purpose\n");
		return c ? atoi(c) : 3;
	}
	if (!strcmp(cmd, "sleep"))
		return cmd_sleep(argc, argv);
	if (!strcmp(cmd, "nondet"))
		return cmd_nondet(argc, argv);
	if (!strcmp(cmd, "memhog"))
		return cmd_memhog(argc, argv);
	if (!strcmp(cmd, "empty"))
		return 0;
	if (!strcmp(cmd, "spawn"))
		return cmd_spawn(argc, argv);
	if (!strcmp(cmd, "crash")) {
		const char *sig = opt(argc, argv, "--signal");
		fprintf(stderr, "toystage: crashing on purpose\n");
		fflush(stderr);
		signal(sig ? atoi(sig) : SIGSEGV, SIG_DFL);
		raise(sig ? atoi(sig) : SIGSEGV);
		return 1;
	}
	if (!strcmp(cmd, "touch-input"))
		return cmd_touch_input(argc, argv);
	if (!strcmp(cmd, "argv"))
		return cmd_argv(argc, argv);
	if (!strcmp(cmd, "derive"))
		return cmd_derive(argc, argv);
	return bad("unknown subcommand", cmd);
}
