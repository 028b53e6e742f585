/*
 * test_gitinfo: gitinfo_read() against repositories built with the git CLI in
 * a scratch directory: commit, branch, clean/dirty states (modified,
 * untracked, ignored-only), detached HEAD, unborn HEAD, no repository.
 */
#include "check.h"
#include "gitinfo.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char scratch[] = "/tmp/study-test-gitinfo-XXXXXX";

/* Run a shell command inside `dir`; 0 on success. Output goes to /dev/null. */
static int sh(const char *dir, const char *cmd)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	int rc = system(sb.buf);
	strbuf_release(&sb);
	return rc;
}

/* First line of a command's output, run inside `dir`. */
static void sh_out(const char *dir, const char *cmd, struct strbuf *out)
{
	struct strbuf sb = STRBUF_INIT;
	char line[256];
	strbuf_reset(out);
	strbuf_addf(&sb, "cd '%s' && %s 2>/dev/null", dir, cmd);
	FILE *f = popen(sb.buf, "r");
	if (f) {
		if (fgets(line, sizeof(line), f))
			strbuf_addstr(out, line);
		pclose(f);
	}
	strbuf_rtrim(out);
	strbuf_release(&sb);
}

static int read_info(const char *path, struct gitinfo *gi)
{
	struct strbuf err = STRBUF_INIT;
	int rc = gitinfo_read(path, gi, &err);
	if (rc < 0)
		printf("# gitinfo_read('%s'): %s\n", path, err.buf);
	strbuf_release(&err);
	return rc;
}

int main(void)
{
	struct strbuf repo = STRBUF_INIT, norepo = STRBUF_INIT, path = STRBUF_INIT;
	struct strbuf head = STRBUF_INIT;
	struct gitinfo gi;

	if (!mkdtemp(scratch)) {
		CHECK(0, "mkdtemp");
		return check_done();
	}
	strbuf_addf(&repo, "%s/repo", scratch);
	strbuf_addf(&norepo, "%s/plain", scratch);
	CHECK(sh(scratch, "mkdir repo plain") == 0, "make scratch dirs");

	/* a directory in no repository */
	CHECK(read_info(norepo.buf, &gi) == 0, "no repo: returns 0");
	CHECK(gi.found == 0, "no repo: found = 0");
	CHECK(gi.branch == NULL && gi.workdir == NULL, "no repo: nothing allocated");
	gitinfo_release(&gi);

	/* unborn HEAD: a fresh repo without commits */
	CHECK(sh(repo.buf, "git init -q -b main . && git config user.name t && "
			   "git config user.email t@example.com && git config commit.gpgsign false") == 0,
	      "git init");
	CHECK(read_info(repo.buf, &gi) == 0, "unborn: returns 0");
	CHECK(gi.found == 1, "unborn: found");
	CHECK_STR(gi.commit, "", "unborn: commit is empty");
	CHECK_STR(gi.branch, "main", "unborn: branch from HEAD's target");
	CHECK(gi.dirty == 0, "unborn, empty work tree: clean");
	gitinfo_release(&gi);

	CHECK(sh(repo.buf, "echo one > f.txt && printf 'ignored.log\\nbuild/\\n' > .gitignore && "
			   "mkdir sub && echo s > sub/s.txt && "
			   "git add f.txt .gitignore sub && git commit -q -m init") == 0,
	      "first commit");
	sh_out(repo.buf, "git rev-parse HEAD", &head);
	CHECK(head.len == 40, "git rev-parse HEAD gave a commit");

	/* clean, queried through a file path inside a subdirectory */
	strbuf_addf(&path, "%s/sub/s.txt", repo.buf);
	CHECK(read_info(path.buf, &gi) == 0, "clean: returns 0");
	CHECK(gi.found == 1, "clean: found");
	CHECK_STR(gi.commit, head.buf, "clean: commit equals git rev-parse HEAD");
	CHECK_STR(gi.branch, "main", "clean: branch");
	CHECK(gi.dirty == 0, "clean: not dirty");
	{
		char *real = realpath(repo.buf, NULL);
		CHECK_STR(gi.workdir, real, "workdir is the absolute root without trailing slash");
		free(real);
	}
	gitinfo_release(&gi);

	/* the repository root as a directory path */
	CHECK(read_info(repo.buf, &gi) == 0 && gi.found, "directory path works too");
	gitinfo_release(&gi);

	/* ignored files only: still clean */
	CHECK(sh(repo.buf, "echo x > ignored.log && mkdir -p build && echo y > build/o") == 0,
	      "create ignored files");
	CHECK(read_info(repo.buf, &gi) == 0 && gi.dirty == 0, "ignored files only: clean");
	gitinfo_release(&gi);

	/* untracked file (in a new directory): dirty */
	CHECK(sh(repo.buf, "mkdir -p new/deeper && echo z > new/deeper/u.txt") == 0,
	      "create untracked file");
	CHECK(read_info(repo.buf, &gi) == 0 && gi.dirty == 1, "untracked file: dirty");
	gitinfo_release(&gi);
	CHECK(sh(repo.buf, "rm -rf new") == 0, "remove untracked file");
	CHECK(read_info(repo.buf, &gi) == 0 && gi.dirty == 0, "untracked removed: clean again");
	gitinfo_release(&gi);

	/* modified tracked file: dirty */
	CHECK(sh(repo.buf, "echo two >> f.txt") == 0, "modify tracked file");
	CHECK(read_info(repo.buf, &gi) == 0 && gi.dirty == 1, "modified file: dirty");
	gitinfo_release(&gi);

	/* staged change: dirty */
	CHECK(sh(repo.buf, "git add f.txt") == 0, "stage the change");
	CHECK(read_info(repo.buf, &gi) == 0 && gi.dirty == 1, "staged change: dirty");
	gitinfo_release(&gi);

	/* detached HEAD */
	CHECK(sh(repo.buf, "git commit -q -m two && git checkout -q --detach HEAD~1") == 0,
	      "detach HEAD");
	sh_out(repo.buf, "git rev-parse HEAD", &head);
	CHECK(read_info(repo.buf, &gi) == 0, "detached: returns 0");
	CHECK(gi.branch == NULL, "detached: branch is NULL");
	CHECK_STR(gi.commit, head.buf, "detached: commit equals git rev-parse HEAD");
	CHECK(gi.dirty == 0, "detached: clean");
	gitinfo_release(&gi);

	/* a broken repository is an error, not "no repository" */
	CHECK(sh(repo.buf, "printf 'garbage' > .git/HEAD") == 0, "corrupt HEAD");
	{
		struct strbuf err = STRBUF_INIT;
		int rc = gitinfo_read(repo.buf, &gi, &err);
		CHECK(rc == -1, "corrupt repo: -1");
		CHECK(!strncmp(err.buf, "git: ", 5), "corrupt repo: message starts with 'git: '");
		printf("# corrupt repo message: %s\n", err.buf);
		CHECK(gi.branch == NULL && gi.workdir == NULL, "corrupt repo: nothing left allocated");
		strbuf_release(&err);
	}

	{
		struct strbuf rm = STRBUF_INIT;
		strbuf_addf(&rm, "rm -rf '%s'", scratch);
		CHECK(system(rm.buf) == 0, "remove scratch dir");
		strbuf_release(&rm);
	}
	strbuf_release(&repo);
	strbuf_release(&norepo);
	strbuf_release(&path);
	strbuf_release(&head);
	return check_done();
}
