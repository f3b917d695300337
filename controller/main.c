/* main.c - the dualstackd command line: a dispatch table of subcommands. */
#include <stdio.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: dualstackd COMMAND ...\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	(void)argv;
	return usage();
}
