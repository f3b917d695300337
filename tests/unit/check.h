/* check.h - a tiny counted-assert harness: every CHECK counts, failures print file:line.
 * Each suite is a function registered in main.c; the runner prints "N passed, N failed". */
#ifndef DS_CHECK_H
#define DS_CHECK_H

#include <stdio.h>
#include <string.h>

extern int check_passed, check_failed;
extern const char *check_fixtures; /* tests/fixtures */

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (cond) {                                                                      \
			check_passed++;                                                          \
		} else {                                                                         \
			check_failed++;                                                          \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

#define CHECK_MSG(cond, ...)                                            \
	do {                                                            \
		if (cond) {                                             \
			check_passed++;                                 \
		} else {                                                \
			check_failed++;                                 \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                   \
			fputc('\n', stderr);                            \
		}                                                       \
	} while (0)

#define CHECK_STR(a, b)                                                                          \
	do {                                                                                     \
		const char *a_ = (a), *b_ = (b);                                                 \
		CHECK_MSG(a_ &&b_ &&strcmp(a_, b_) == 0, "%s != %s\n  got:  [%s]\n  want: [%s]", \
			  #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                       \
	} while (0)

#define CHECK_INT(a, b)                                                   \
	do {                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);       \
		CHECK_MSG(a_ == b_, "%s == %lld, want %lld", #a, a_, b_); \
	} while (0)

/* Reads a whole fixture file (relative to check_fixtures) into a malloc'd NUL-terminated
 * string, or NULL (and a counted failure). */
char *check_read_fixture(const char *rel, size_t *len);

/* Compares got with the golden file rel (relative to check_fixtures), a counted check naming
 * what; DS_UPDATE_GOLDEN=1 first writes got there, for review before it is committed. */
void check_golden(const char *rel, const char *got, const char *what);

#endif
