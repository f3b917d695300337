/* The unit test runner: runs every suite (or those named on the command line). */
#include <stdlib.h>
#include <string.h>

#include "../../handlers/json_arena.h"
#include "check.h"

int check_passed, check_failed;
const char *check_fixtures = "tests/fixtures";

void test_sigv4(void);
void test_ec2_xml(void);
void test_ratelimit(void);
void test_creds(void);
void test_plan(void);
void test_policy(void);
void test_events(void);
void test_queue(void);
void test_msk(void);
void test_executor(void);
void test_guard(void);
void test_rollout(void);
void test_revert(void);
void test_audit(void);
void test_http(void);

static const struct {
	const char *name;
	void (*fn)(void);
} suites[] = {
    {"sigv4", test_sigv4},	 {"ec2_xml", test_ec2_xml}, {"ratelimit", test_ratelimit},
    {"creds", test_creds},	 {"plan", test_plan},	    {"policy", test_policy},
    {"events", test_events},	 {"queue", test_queue},	    {"msk", test_msk},
    {"executor", test_executor}, {"guard", test_guard},	    {"rollout", test_rollout},
    {"revert", test_revert},	 {"audit", test_audit},	    {"http", test_http},
};

char *check_read_fixture(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", check_fixtures, rel);
	FILE *f = fopen(path, "rb");
	if (!f) {
		check_failed++;
		fprintf(stderr, "cannot open fixture %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	if (p) {
		p[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return p;
}

int main(int argc, char **argv)
{
	json_arena_install(); /* as dualstackd's main does: the decoders run in their arena */
	const char *env = getenv("DS_FIXTURES");
	if (env)
		check_fixtures = env;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		int run = argc < 2;
		for (int a = 1; a < argc; a++)
			run |= strcmp(argv[a], suites[i].name) == 0;
		if (!run)
			continue;
		int f0 = check_failed;
		suites[i].fn();
		fprintf(stderr, "suite %-14s %s\n", suites[i].name,
			check_failed == f0 ? "ok" : "FAILED");
	}
	printf("unit: %d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

void check_golden(const char *rel, const char *got, const char *what)
{
	if (getenv("DS_UPDATE_GOLDEN")) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", check_fixtures, rel);
		FILE *f = fopen(path, "w");
		if (f) {
			fputs(got, f);
			fclose(f);
		}
	}
	char *want = check_read_fixture(rel, NULL);
	if (want)
		CHECK_MSG(!strcmp(got, want), "%s differs\n--- got:\n%s--- want:\n%s", what, got,
			  want);
	free(want);
}
